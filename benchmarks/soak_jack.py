"""Soak the real capture path: a JACK dummy server, a JACK client playing the demo soundscape into it, and
`performer serve --input system` for SECONDS; prints dropped audio blocks, skipped hops and memory growth.

Usage: python benchmarks/soak_jack.py SECONDS   (needs jackd2 and the test extra: JACK-Client)
"""
import json, os, subprocess, sys, time
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, 'tests'))
os.environ['JACK_DEFAULT_SERVER'] = 'soak'; os.environ['JACK_NO_START_SERVER'] = '1'
from jack_helpers import JackServer, JackPlayer, JACK_RATE
import soxr
from performer.audio import demo_signal, DEMO_RATE
server = JackServer('soak'); server.start()
player = JackPlayer(soxr.resample(demo_signal(), DEMO_RATE, JACK_RATE), name='soakplayer')
stats = os.path.join(os.environ.get('TMPDIR', '/tmp'), 'performer-soak-stats.json')
proc = subprocess.Popen([sys.executable, '-m', 'performer', '-q', 'serve', '--input', 'system', '--device', 'cpu',
                         '--duration', sys.argv[1], '--stats', stats, '--no-osc'], cwd=REPO)
rss = []
t0 = time.monotonic()
while proc.poll() is None:
    time.sleep(10)
    try:
        kids = subprocess.run(['ps', '-o', 'rss=', '-p', str(proc.pid)], capture_output=True, text=True).stdout.split()
        if kids and proc.poll() is None:  # a sample taken after the server exited would read nothing
            rss.append((round(time.monotonic() - t0), int(kids[0]) / 1024))
    except Exception:
        pass
s = json.load(open(stats))
warm = [m for t, m in rss if t >= 60] or [m for _, m in rss]
out = {'seconds': sys.argv[1], 'input': s['input'], 'audio_blocks': s['audio_blocks'], 'dropped_audio_blocks': s['dropped_audio_blocks'],
       'input_lost': s['input_lost'], 'hops': s['hops'], 'skipped_hops': s['skipped_hops'], 'frames': s['frames'], 'fps_end': s['fps'],
       'classify_ms': s['classify_ms'], 'class_changes': s['class_changes'],
       'rss_mb_after_1min': round(warm[0], 1), 'rss_mb_end': round(rss[-1][1], 1), 'rss_growth_pct': round(100 * (rss[-1][1] - warm[0]) / warm[0], 2),
       'rc': proc.returncode}
print(json.dumps(out, indent=2))
player.close(); server.stop()
