"""How tall the control page is on a phone (390 x 844, headless Chromium) and where its performance keys are: the
page of this working tree, and with --rev REV the page of an earlier commit, both for today's registry (the page is
rendered from a file, without a server: the layout is the same).

Usage: python benchmarks/control_page_height.py [--rev 6a04d3a]   (needs the Debian package chromium)
"""
import argparse, importlib.util, json, os, signal, subprocess, sys, tempfile, time
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, 'tests'), os.path.join(REPO, 'tests', 'outputs')]
from test_preview import CHROMIUM, DevTools, get
from performer.params import REGISTRY
from performer.outputs.preview.control_page import control_page

ap = argparse.ArgumentParser()
ap.add_argument('--rev', help='also measure the control page of this commit')
args = ap.parse_args()
work = tempfile.mkdtemp(prefix='page-height-')
pages = [('this tree', control_page)]
if args.rev:
    src = subprocess.run(['git', 'show', f'{args.rev}:performer/outputs/preview/control_page.py'], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    path = os.path.join(work, 'old_control_page.py')
    open(path, 'w').write(src)
    spec = importlib.util.spec_from_file_location('old_control_page', path)
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    pages.insert(0, (args.rev, old.control_page))
proc = subprocess.Popen([CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
                         f'--user-data-dir={work}/profile', '--remote-debugging-port=0', 'about:blank'],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
try:
    active = os.path.join(work, 'profile', 'DevToolsActivePort')
    while not (os.path.exists(active) and open(active).read().count('\n')):
        time.sleep(0.1)
    port = int(open(active).read().split()[0])
    target = next(t for t in json.loads(get(f'http://127.0.0.1:{port}/json/list')[2]) if t['type'] == 'page')
    tools = DevTools(target['webSocketDebuggerUrl'])
    tools.call('Page.enable')
    tools.call('Emulation.setDeviceMetricsOverride', width=390, height=844, deviceScaleFactor=1, mobile=True)
    at = "(() => { const e = document.querySelector('[data-name=\"%s\"]'); return Math.round(e.getBoundingClientRect().top + scrollY); })()"
    for label, make in pages:
        html = os.path.join(work, 'page.html')
        open(html, 'w').write(make(REGISTRY))
        tools.call('Page.navigate', url='file://' + html)
        time.sleep(1.5)
        h = tools.evaluate('document.documentElement.scrollHeight')
        keys = ', '.join(f'{n} at {tools.evaluate(at % n)} px' for n in
                         ('master.blackout', 'master.freeze', 'tempo.tap', 'master.fade'))
        print(f'{label}: {h} px tall ({h / 844:.2f} phone screens); {keys}')
        if tools.evaluate("document.querySelectorAll('details.group').length"):
            tools.evaluate("for (const d of document.querySelectorAll('details.group')) d.open = true")
            h = tools.evaluate('document.documentElement.scrollHeight')
            print(f'{label}, every group opened: {h} px ({h / 844:.2f} screens)')
finally:
    os.killpg(proc.pid, signal.SIGTERM)
