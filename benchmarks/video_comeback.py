"""How soon an NDI source that went away and came back is received again: a sender on loopback (Performer's own NDI
output) stops for GAP seconds and starts again with another picture; the time from its start to the first frame
of the new picture in an NDIVideo, REPS times per gap. --old gives the receiver the settings it had before
(dropped after 5 s without video and connection, no fresh finder while searching) in the same run.

Usage: python benchmarks/video_comeback.py [--gaps 0.3,1.5,6] [--reps 3] [--old]   (needs ndi-python)
"""
import argparse, os, statistics, sys, time
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, 'tests', 'video'))
from video_peer import Sender, error, picture
from performer.video import NDIVideo

ap = argparse.ArgumentParser()
ap.add_argument('--gaps', default='0.3,1.5,6')
ap.add_argument('--reps', type=int, default=3)
ap.add_argument('--old', action='store_true')
args = ap.parse_args()
for settings in ([('new', {}), ('old', {'lost_after_s': 5.0, 'refind_s': 1e9})] if args.old else [('new', {})]):
    label, attrs = settings
    for gap in (float(g) for g in args.gaps.split(',')):
        times = []
        for rep in range(args.reps):
            name = f'Comeback {label} {gap} {rep}'
            video = NDIVideo(name)
            for k, v in attrs.items():
                setattr(video, k, v)
            video.start()
            try:
                with Sender(name, picture()):
                    assert video.wait_for_frame(20) is not None, video.status()
                    time.sleep(1.0)
                time.sleep(gap)
                back = picture(flip=True)
                with Sender(name, back):
                    t0 = time.monotonic()
                    while time.monotonic() - t0 < 30:
                        f = video.latest()
                        if f is not None and error(f, back) < 8:
                            break
                        time.sleep(0.01)
                    times.append(time.monotonic() - t0)
            finally:
                video.stop()
        print(f'{label}: gone {gap:g} s -> received again after {statistics.median(times):.2f} s median '
              f'(max {max(times):.2f}, {len(times)} runs)', flush=True)
