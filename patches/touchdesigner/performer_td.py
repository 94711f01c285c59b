"""Performer for TouchDesigner. GENERATED from the parameter registry by `performer patches --write`: do not edit by hand
(regenerate after changing performer/params/table.py). Sends to 127.0.0.1:9000 and listens on 9002: start the server with `performer serve --osc-out 127.0.0.1:9002`.

Run inside TouchDesigner (2022 or newer): open the Textport (Alt+T) and type
    exec(open(r'/path/to/performer/patches/touchdesigner/performer_td.py').read())
or paste this file into a Text DAT and right-click it > Run Script. It builds a Base COMP named `performer`
in /project1 (in the root when there is no /project1), holding:
  * a custom page "Performer" with one parameter per Performer parameter (ranges and menus from the registry);
    moving one sends it to the server; the server's own changes (MIDI, presets, the sound) come back into them;
  * a page "Commands": preset load/save/next/prev, MIDI learn and cancel (type the name, then pulse "send");
  * `oscout`: an OSC Out DAT sending to SERVER_HOST:SERVER_PORT (the server);
  * `oscin`: an OSC In DAT listening on FEEDBACK_PORT, whose callbacks (`oscin_callbacks`) fill the table
    `analysis` (class, confidence, level, peak, onset, centroid, fps, latency, last error) and move the custom
    parameters when the server reports a change (from MIDI, a preset, another client);
  * `ndiin` -> `frames`: an NDI In TOP receiving the dream, and a Null TOP to take it from.
Start the server with
    performer serve --preset club --osc-out 127.0.0.1:9002
and pick the NDI source in `ndiin` (its name is "<machine> (<name of the preset's ndi output>)").
Running the script again rebuilds the COMP.
"""

SERVER_HOST = '127.0.0.1'
SERVER_PORT = 9000
FEEDBACK_PORT = 9002
NDI_SOURCE = 'Performer'

PARAMS = [
    {'name': 'Audiogain', 'label': 'audio.gain', 'address': '/audio/gain', 'type': 'float', 'help': 'Input gain applied before analysis.', 'min': -24.0, 'max': 24.0, 'default': 0.0},
    {'name': 'Audiogate', 'label': 'audio.gate', 'address': '/audio/gate', 'type': 'float', 'help': 'Level below which the input counts as silence: the classifier holds its last class.', 'min': -120.0, 'max': 0.0, 'default': -70.0},
    {'name': 'Classifierenabled', 'label': 'classifier.enabled', 'address': '/classifier/enabled', 'type': 'bool', 'help': 'Run the sound classifier; when off the top class stays where it is.', 'default': True},
    {'name': 'Classifierwindow', 'label': 'classifier.window', 'address': '/classifier/window', 'type': 'float', 'help': 'Length of the sound window each classification looks at.', 'min': 0.5, 'max': 4.0, 'default': 1.0},
    {'name': 'Classifierhop', 'label': 'classifier.hop', 'address': '/classifier/hop', 'type': 'float', 'help': 'Time between two classifications of the sliding window.', 'min': 0.1, 'max': 1.0, 'default': 0.1},
    {'name': 'Classifiersmoothing', 'label': 'classifier.smoothing', 'address': '/classifier/smoothing', 'type': 'float', 'help': 'Time constant of the exponential smoothing of class probabilities.', 'min': 0.0, 'max': 5.0, 'default': 0.3},
    {'name': 'Classifierhysteresis', 'label': 'classifier.hysteresis', 'address': '/classifier/hysteresis', 'type': 'float', 'help': "How far a new class's smoothed probability must exceed the current class's before the top class changes.", 'min': 0.0, 'max': 0.5, 'default': 0.1},
    {'name': 'Classifierhold', 'label': 'classifier.hold', 'address': '/classifier/hold', 'type': 'float', 'help': 'Minimum time the top class is kept before it may change again.', 'min': 0.0, 'max': 10.0, 'default': 1.0},
    {'name': 'Classifierlock', 'label': 'classifier.lock', 'address': '/classifier/lock', 'type': 'bool', 'help': 'Freeze the top class: the dream keeps its image whatever the sound does.', 'default': False},
    {'name': 'Classifierfast', 'label': 'classifier.fast', 'address': '/classifier/fast', 'type': 'bool', 'help': 'The fast path: a new sound (see classifier.novelty) is named from its first moments, without waiting for it to fill the window, the smoothing or the hold.', 'default': True},
    {'name': 'Classifierfastwindow', 'label': 'classifier.fast_window', 'address': '/classifier/fast_window', 'type': 'float', 'help': 'How much of a new sound the fast path hears before it may name it.', 'min': 0.1, 'max': 1.0, 'default': 0.15},
    {'name': 'Classifierfastconfidence', 'label': 'classifier.fast_confidence', 'address': '/classifier/fast_confidence', 'type': 'float', 'help': "Probability the fast path's class needs before it takes over.", 'min': 0.0, 'max': 1.0, 'default': 0.35},
    {'name': 'Classifiernovelty', 'label': 'classifier.novelty', 'address': '/classifier/novelty', 'type': 'float', 'help': 'How different the latest hop must sound from the second before it to count as a new sound for the fast path: the mean change over mel bands, each in units of its own variation (std in dB + 3 dB).', 'min': 0.2, 'max': 5.0, 'default': 1.2},
    {'name': 'Analysisbands', 'label': 'analysis.bands', 'address': '/analysis/bands', 'type': 'int', 'help': 'Number of log-spaced spectrum bands (30 Hz to 16 kHz) the analyser measures besides low, mid and high: modulation sources band.1 .. band.N and the tail of /performer/bands, each in dBFS.', 'min': 1, 'max': 32, 'default': 3},
    {'name': 'Analysisattack', 'label': 'analysis.attack', 'address': '/analysis/attack', 'type': 'float', 'help': 'Attack of the band envelopes (env.low, env.1 ...: each band 0..1 against its own recent peak): time constant with which an envelope rises, updated each analysis hop (0: at once).', 'min': 0.0, 'max': 2.0, 'default': 0.01},
    {'name': 'Analysisrelease', 'label': 'analysis.release', 'address': '/analysis/release', 'type': 'float', 'help': 'Release of the band envelopes and of the hits (hit.low, the kick, ...): time constant with which they fall back towards 0.', 'min': 0.0, 'max': 5.0, 'default': 0.25},
    {'name': 'Analysishit', 'label': 'analysis.hit', 'address': '/analysis/hit', 'type': 'float', 'help': 'How many dB a band must rise from one analysis hop to the next, into the top half of its 0..1 range, to count as a hit: hit.low (the kick), hit.mid ... jump to 1 and fall with analysis.release.', 'min': 1.0, 'max': 30.0, 'default': 6.0},
    {'name': 'Mappingenabled', 'label': 'mapping.enabled', 'address': '/mapping/enabled', 'type': 'bool', 'help': "Apply the preset's modulation matrix (sound and glove acting on parameters).", 'default': True},
    {'name': 'Mappingdepth', 'label': 'mapping.depth', 'address': '/mapping/depth', 'type': 'float', 'help': 'Master depth that scales every modulation route.', 'min': 0.0, 'max': 2.0, 'default': 1.0},
    {'name': 'Dreamnetwork', 'label': 'dream.network', 'address': '/dream/network', 'type': 'enum', 'help': "ImageNet network the dream climbs; all but efficientnet_lite0 need torchvision's weights in TORCH_HOME.", 'choices': ['efficientnet_lite0', 'googlenet', 'vgg16', 'resnet50'], 'default': 'efficientnet_lite0'},
    {'name': 'Dreamlayers', 'label': 'dream.layers', 'address': '/dream/layers', 'type': 'string', 'help': "Layers to dream on with weights, e.g. 'blocks.4=1,blocks.5=0.5'; empty means the network's default.", 'default': ''},
    {'name': 'Dreamiterations', 'label': 'dream.iterations', 'address': '/dream/iterations', 'type': 'int', 'help': 'Gradient-ascent steps per octave for each dreamed frame.', 'min': 1, 'max': 20, 'default': 2},
    {'name': 'Dreamoctaves', 'label': 'dream.octaves', 'address': '/dream/octaves', 'type': 'int', 'help': 'Number of image scales dreamed per frame.', 'min': 1, 'max': 6, 'default': 1},
    {'name': 'Dreamoctavescale', 'label': 'dream.octave_scale', 'address': '/dream/octave_scale', 'type': 'float', 'help': 'Size ratio between two octaves.', 'min': 1.1, 'max': 2.0, 'default': 1.4},
    {'name': 'Dreamlr', 'label': 'dream.lr', 'address': '/dream/lr', 'type': 'float', 'help': 'Step size (learning rate) of each gradient-ascent step.', 'min': 0.001, 'max': 0.2, 'default': 0.02},
    {'name': 'Dreamjitter', 'label': 'dream.jitter', 'address': '/dream/jitter', 'type': 'int', 'help': 'Random shift applied before each step, against grid artefacts.', 'min': 0, 'max': 64, 'default': 8},
    {'name': 'Dreamgradnorm', 'label': 'dream.grad_norm', 'address': '/dream/grad_norm', 'type': 'enum', 'help': "How each step's gradient is normalised.", 'choices': ['mean_abs', 'std', 'none'], 'default': 'mean_abs'},
    {'name': 'Dreamgradsmooth', 'label': 'dream.grad_smooth', 'address': '/dream/grad_smooth', 'type': 'float', 'help': 'Gaussian blur of the gradient, for smoother patterns.', 'min': 0.0, 'max': 4.0, 'default': 1.0},
    {'name': 'Dreamrobustness', 'label': 'dream.robustness', 'address': '/dream/robustness', 'type': 'float', 'help': 'Random scale and rotation before each step (0 off, 1 = up to 8 % and 8 degrees): only patterns that survive small transforms grow, so guidance draws objects instead of speckle.', 'min': 0.0, 'max': 2.0, 'default': 1.0},
    {'name': 'Dreamfreqdecay', 'label': 'dream.freq_decay', 'address': '/dream/freq_decay', 'type': 'float', 'help': 'Exponent of the 1/f filter on each step (0 off): large shapes grow before fine grain.', 'min': 0.0, 'max': 2.0, 'default': 1.0},
    {'name': 'Dreamdecorrelate', 'label': 'dream.decorrelate', 'address': '/dream/decorrelate', 'type': 'bool', 'help': "Take each step in ImageNet's decorrelated colour space (natural colours instead of rainbow fringes).", 'default': True},
    {'name': 'Dreamwidth', 'label': 'dream.width', 'address': '/dream/width', 'type': 'int', 'help': 'Width of the picture the network dreams (outputs scale it).', 'min': 64, 'max': 1920, 'default': 320},
    {'name': 'Dreamheight', 'label': 'dream.height', 'address': '/dream/height', 'type': 'int', 'help': 'Height of the picture the network dreams (outputs scale it).', 'min': 64, 'max': 1080, 'default': 180},
    {'name': 'Dreamtile', 'label': 'dream.tile', 'address': '/dream/tile', 'type': 'int', 'help': "Largest side of the piece of an octave one step dreams (0: whole octaves, taking turns a frame each). Above 0 the smallest octave is dreamed every frame and the larger ones a tile a frame, so a picture at the output's size gets its fine structure dreamed where it is seen.", 'min': 0, 'max': 1920, 'default': 0},
    {'name': 'Dreamcolourhold', 'label': 'dream.colour_hold', 'address': '/dream/colour_hold', 'type': 'float', 'help': "How far each second the picture's brightness, contrast, mean colour and saturation move to its class's (its portrait's, tinted by the preset's [classes.X] colour); 0 lets colour drift.", 'min': 0.0, 'max': 1.0, 'default': 0.5},
    {'name': 'Dreamguideweight', 'label': 'dream.guide_weight', 'address': '/dream/guide_weight', 'type': 'float', 'help': "Weight of the push towards the sound classes' ImageNet targets (0 = plain Deep Dream).", 'min': 0.0, 'max': 10.0, 'default': 5.0},
    {'name': 'Dreamfollowconfidence', 'label': 'dream.follow_confidence', 'address': '/dream/follow_confidence', 'type': 'float', 'help': 'Smoothed probability the top class needs before the guidance follows the sound; below it (silence, none of the classes, an unsure classifier) the dream keeps its current picture.', 'min': 0.0, 'max': 1.0, 'default': 0.45},
    {'name': 'Dreamclasschange', 'label': 'dream.class_change', 'address': '/dream/class_change', 'type': 'enum', 'help': "What a class change does: morph keeps the image and moves the guidance over dream.crossfade; restart starts a new dream from the class's seed.", 'choices': ['morph', 'restart'], 'default': 'morph'},
    {'name': 'Dreamportraitpull', 'label': 'dream.portrait_pull', 'address': '/dream/portrait_pull', 'type': 'float', 'help': "How much of the picture a class change turns into the new class's portrait over the crossfade, region by region (0 keeps the picture, 1 arrives at the portrait).", 'min': 0.0, 'max': 1.0, 'default': 0.5},
    {'name': 'Dreamseed', 'label': 'dream.seed', 'address': '/dream/seed', 'type': 'enum', 'help': "Where a dream starts: the class's image (the preset's, else its built-in portrait), the live spectrogram, noise, or the previous frame.", 'choices': ['class_image', 'spectrogram', 'noise', 'previous'], 'default': 'class_image'},
    {'name': 'Dreamblend', 'label': 'dream.blend', 'address': '/dream/blend', 'type': 'float', 'help': "Pull of each frame back towards the current class's portrait (or the seed image).", 'min': 0.0, 'max': 1.0, 'default': 0.0},
    {'name': 'Dreamcrossfade', 'label': 'dream.crossfade', 'address': '/dream/crossfade', 'type': 'float', 'help': 'Time over which the guidance moves to a new class (and a restarted dream fades in).', 'min': 0.0, 'max': 10.0, 'default': 2.0},
    {'name': 'Dreamzoom', 'label': 'dream.zoom', 'address': '/dream/zoom', 'type': 'float', 'help': 'Zoom applied to the image each output frame (endless zoom above 1).', 'min': 0.9, 'max': 1.2, 'default': 1.0},
    {'name': 'Dreamrotate', 'label': 'dream.rotate', 'address': '/dream/rotate', 'type': 'float', 'help': 'Rotation applied to the image each output frame.', 'min': -10.0, 'max': 10.0, 'default': 0.0},
    {'name': 'Dreamtranslatex', 'label': 'dream.translate_x', 'address': '/dream/translate_x', 'type': 'float', 'help': 'Horizontal shift applied to the image each output frame.', 'min': -32.0, 'max': 32.0, 'default': 0.0},
    {'name': 'Dreamtranslatey', 'label': 'dream.translate_y', 'address': '/dream/translate_y', 'type': 'float', 'help': 'Vertical shift applied to the image each output frame.', 'min': -32.0, 'max': 32.0, 'default': 0.0},
    {'name': 'Dreamrestart', 'label': 'dream.restart', 'address': '/dream/restart', 'type': 'trigger', 'help': "Start the dream anew from the current class's seed."},
    {'name': 'Videoweight', 'label': 'video.weight', 'address': '/video/weight', 'type': 'float', 'help': "How much of the live video (the preset's [video] source or serve --video: NDI, a camera, a file) goes into the picture: 0 off; in blend mode each dreamed frame moves this share of the way to the video's newest frame, so the dream keeps growing on it.", 'min': 0.0, 'max': 1.0, 'default': 0.0},
    {'name': 'Videomode', 'label': 'video.mode', 'address': '/video/mode', 'type': 'enum', 'help': 'How the live video acts: blend pulls every dreamed frame towards it; restart mixes it (by video.weight) only into the seed of each new dream (on dream.restart, or a class change when dream.class_change is restart).', 'choices': ['blend', 'restart'], 'default': 'blend'},
    {'name': 'Outputfps', 'label': 'output.fps', 'address': '/output/fps', 'type': 'float', 'help': "Rate at which the outputs get frames, whatever the dream's own rate (frames in between are interpolated).", 'min': 1.0, 'max': 120.0, 'default': 30.0},
    {'name': 'Outputlayout', 'label': 'output.layout', 'address': '/output/layout', 'type': 'enum', 'help': "What the outputs show: the dream alone, or the paper's composite of dream, probabilities and spectrogram.", 'choices': ['dream', 'composite'], 'default': 'dream'},
    {'name': 'Masterbrightness', 'label': 'master.brightness', 'address': '/master/brightness', 'type': 'float', 'help': 'Brightness added to the output after the dream: -1 black .. 1 white, as a share of full scale.', 'min': -1.0, 'max': 1.0, 'default': 0.0},
    {'name': 'Mastercontrast', 'label': 'master.contrast', 'address': '/master/contrast', 'type': 'float', 'help': 'Contrast of the output about mid grey: 0 flat grey, 1 unchanged, 2 double.', 'min': 0.0, 'max': 2.0, 'default': 1.0},
    {'name': 'Mastersaturation', 'label': 'master.saturation', 'address': '/master/saturation', 'type': 'float', 'help': 'Colour saturation of the output: 0 grey, 1 unchanged, 2 double.', 'min': 0.0, 'max': 2.0, 'default': 1.0},
    {'name': 'Masterhue', 'label': 'master.hue', 'address': '/master/hue', 'type': 'float', 'help': "Hue rotation of the output's colours.", 'min': -180.0, 'max': 180.0, 'default': 0.0},
    {'name': 'Masterfade', 'label': 'master.fade', 'address': '/master/fade', 'type': 'float', 'help': 'Fade to black: 0 full picture .. 1 black; a jump glides over a second.', 'min': 0.0, 'max': 1.0, 'default': 0.0},
    {'name': 'Masterfreeze', 'label': 'master.freeze', 'address': '/master/freeze', 'type': 'bool', 'help': 'Hold the output on the frame it shows now, while the dream goes on underneath; off cuts back to it.', 'default': False},
    {'name': 'Masterblackout', 'label': 'master.blackout', 'address': '/master/blackout', 'type': 'trigger', 'help': 'Black at once; fire again to bring the picture back (an odd number of fires is black).'},
    {'name': 'Controloscoutrate', 'label': 'control.osc_out_rate', 'address': '/control/osc_out_rate', 'type': 'float', 'help': 'Rate of the analysis messages sent over OSC.', 'min': 1.0, 'max': 120.0, 'default': 30.0},
    {'name': 'Crossfadera', 'label': 'crossfader.a', 'address': '/crossfader/a', 'type': 'string', 'help': "The preset at the crossfader's A end (0), by name: your preset folder first, then the shipped presets.", 'default': ''},
    {'name': 'Crossfaderb', 'label': 'crossfader.b', 'address': '/crossfader/b', 'type': 'string', 'help': "The preset at the crossfader's B end (1), by name: your preset folder first, then the shipped presets.", 'default': ''},
    {'name': 'Crossfaderposition', 'label': 'crossfader.position', 'address': '/crossfader/position', 'type': 'float', 'help': 'Moving it mixes crossfader.a and crossfader.b: numbers in proportion, the rest switch at 0.5; only a move applies, a recall leaves it where it is.', 'min': 0.0, 'max': 1.0, 'default': 0.0},
    {'name': 'Temposource', 'label': 'tempo.source', 'address': '/tempo/source', 'type': 'enum', 'help': "Where the beat comes from: the input's own beat (tracked from the sound), tap tempo (tempo.tap, or tempo.bpm set by hand), MIDI clock in (tempo.midi_input), or an Ableton Link session.", 'choices': ['audio', 'tap', 'midi', 'link'], 'default': 'audio'},
    {'name': 'Tempoquantize', 'label': 'tempo.quantize', 'address': '/tempo/quantize', 'type': 'enum', 'help': 'Hold preset recalls, restarts and class changes until the next beat or the next bar of the tempo.', 'choices': ['off', 'beat', 'bar'], 'default': 'off'},
    {'name': 'Tempotap', 'label': 'tempo.tap', 'address': '/tempo/tap', 'type': 'trigger', 'help': 'Tap tempo (tempo.source = tap): each tap is a beat; the first after a 2-s pause begins a bar, two or more set tempo.bpm.'},
    {'name': 'Tempobpm', 'label': 'tempo.bpm', 'address': '/tempo/bpm', 'type': 'float', 'help': 'The tempo of tempo.source = tap, set by tapping or by hand (the phase goes on).', 'min': 40.0, 'max': 240.0, 'default': 120.0},
    {'name': 'Tempodownbeat', 'label': 'tempo.downbeat', 'address': '/tempo/downbeat', 'type': 'trigger', 'help': 'The beat nearest now begins a bar: the bar phase restarts there, whatever the tempo source.'},
    {'name': 'Tempolatency', 'label': 'tempo.latency', 'address': '/tempo/latency', 'type': 'float', 'help': "How far ahead of the source the beat runs, to make up for the input's and the video's delay.", 'min': -200.0, 'max': 500.0, 'default': 0.0},
    {'name': 'Tempomidiinput', 'label': 'tempo.midi_input', 'address': '/tempo/midi_input', 'type': 'string', 'help': 'MIDI input ports whose clock tempo.source = midi follows: a part of the port name (empty: any port).', 'default': ''},
    {'name': 'Tempodouble', 'label': 'tempo.double', 'address': '/tempo/double', 'type': 'trigger', 'help': "The beat twice as fast (x2), whatever the source: tap tempo's tempo.bpm doubles, a Link session's tempo doubles for every peer, the audio tracker's and the MIDI clock's count runs twice as fast."},
    {'name': 'Tempohalve', 'label': 'tempo.halve', 'address': '/tempo/halve', 'type': 'trigger', 'help': 'The beat half as fast (/2), whatever the source (as tempo.double).'},
    {'name': 'Temponudge', 'label': 'tempo.nudge', 'address': '/tempo/nudge', 'type': 'float', 'help': 'Moves the beat later (positive) or earlier by this much, whatever the source: line the grid up by ear.', 'min': -250.0, 'max': 250.0, 'default': 0.0},
    {'name': 'Tempolinkstartstop', 'label': 'tempo.link_start_stop', 'address': '/tempo/link_start_stop', 'type': 'bool', 'help': "With tempo.source = link, follow the session's start and stop (Link start/stop sync): stopped, the beat stands still and what waits for the beat happens at once.", 'default': False},
]

COMMANDS = [
    ('/preset/load', 's', 'Recall a preset by name (your folder, else the shipped ones); NAME SECONDS morphs to it.'),
    ('/preset/save', 's', 'Save the current state as a new preset of this name in your preset folder.'),
    ('/preset/save/overwrite', 's', 'Save the current state in your preset folder, replacing the preset of this name.'),
    ('/preset/next', '', "Recall the next preset in the current preset's folder."),
    ('/preset/prev', '', "Recall the previous preset in the current preset's folder."),
    ('/midi/learn', 's', 'Arm MIDI learn for a parameter (name or address); the next control moved is mapped.'),
    ('/midi/learn/cancel', '', 'Cancel MIDI learn.'),
]


def build(parent=None):
    parent = parent or (op('/project1') if op('/project1') is not None else root)
    old = parent.op('performer')
    if old is not None:
        old.destroy()
    comp = parent.create(baseCOMP, 'performer')
    page = comp.appendCustomPage('Performer')
    for spec in PARAMS:
        kind = spec['type']
        if kind == 'float':
            par = page.appendFloat(spec['name'], label=spec['label'])[0]
        elif kind == 'int':
            par = page.appendInt(spec['name'], label=spec['label'])[0]
        elif kind == 'bool':
            par = page.appendToggle(spec['name'], label=spec['label'])[0]
        elif kind == 'enum':
            par = page.appendMenu(spec['name'], label=spec['label'])[0]
            par.menuNames = spec['choices']
            par.menuLabels = spec['choices']
        elif kind == 'trigger':
            par = page.appendPulse(spec['name'], label=spec['label'])[0]
        else:
            par = page.appendStr(spec['name'], label=spec['label'])[0]
        if 'min' in spec:
            par.min, par.max = spec['min'], spec['max']
            par.normMin, par.normMax = spec['min'], spec['max']
            par.clampMin = par.clampMax = True
        if 'default' in spec:
            par.default = spec['default']
            par.val = spec['default']
        par.help = spec['help']
    cpage = comp.appendCustomPage('Commands')
    for address, types, label in COMMANDS:
        name = ''.join(w.capitalize() for w in address.strip('/').split('/'))
        name = name[:1] + name[1:].lower()
        if types == 's':
            cpage.appendStr(name, label=label)
            cpage.appendPulse(name + 'send', label='send ' + address)
        else:
            cpage.appendPulse(name, label=address)

    oscout = comp.create(oscoutDAT, 'oscout')
    oscout.par.netaddress = SERVER_HOST
    oscout.par.port = SERVER_PORT
    oscout.nodeX, oscout.nodeY = 0, 0

    sender = comp.create(parameterexecuteDAT, 'send_params')
    sender.par.op = comp.path
    sender.par.pars = '*'
    sender.par.valuechange = True
    sender.par.onpulse = True
    sender.nodeX, sender.nodeY = 0, -150
    sender.text = SENDER_CALLBACKS

    table = comp.create(tableDAT, 'params')
    table.clear()
    table.appendRow(['par', 'address', 'type'])
    for spec in PARAMS:
        table.appendRow([spec['name'], spec['address'], spec['type']])
    for address, types, label in COMMANDS:
        name = ''.join(w.capitalize() for w in address.strip('/').split('/'))
        name = name[:1] + name[1:].lower()
        table.appendRow([name + ('send' if types == 's' else ''), address, 'command:' + name])
    table.nodeX, table.nodeY = 200, -150

    analysis = comp.create(tableDAT, 'analysis')
    analysis.clear()
    for row in (['class', ''], ['confidence', 0], ['level', -60], ['peak', -60], ['onset', 0], ['centroid', 0],
                ['fps', 0], ['latency_ms', 0], ['error', '']):
        analysis.appendRow(row)
    analysis.nodeX, analysis.nodeY = 400, 150

    callbacks = comp.create(textDAT, 'oscin_callbacks')
    callbacks.text = RECEIVER_CALLBACKS
    callbacks.nodeX, callbacks.nodeY = 200, 300
    oscin = comp.create(oscinDAT, 'oscin')
    oscin.par.port = FEEDBACK_PORT
    oscin.par.callbacks = callbacks
    oscin.nodeX, oscin.nodeY = 200, 150

    ndi = comp.create(ndiinTOP, 'ndiin')
    ndi.par.extraips = SERVER_HOST
    ndi.nodeX, ndi.nodeY = 600, 0
    out = comp.create(nullTOP, 'frames')
    out.inputConnectors[0].connect(ndi)
    out.nodeX, out.nodeY = 800, 0
    print('performer: built', comp.path, '- pick the NDI source in', ndi.path,
          '(it ends with "(' + NDI_SOURCE + ')" or your preset\'s ndi output name)')
    return comp


SENDER_CALLBACKS = """# Sends each parameter of the Performer COMP to the server. Generated; see performer_td.py.
def _row(par):
    t = op('params')
    cell = t[par.name, 'address'] if t is not None else None
    return (cell.val, t[par.name, 'type'].val) if cell is not None else (None, None)

def onValueChange(par, prev):
    address, kind = _row(par)
    if address is None or kind.startswith('command:') or kind == 'trigger':
        return
    if parent().fetch('_receiving', False, search=False):
        return
    value = par.eval()
    if kind == 'int' or kind == 'bool':
        value = int(value)
    elif kind == 'float':
        value = float(value)
    else:
        value = str(value)
    op('oscout').sendOSC(address, [value])

def onPulse(par):
    address, kind = _row(par)
    if address is None:
        return
    if kind.startswith('command:'):
        text_par = getattr(parent().par, kind.split(':', 1)[1], None)
        if text_par is not None and text_par.style == 'Str':
            op('oscout').sendOSC(address, [text_par.eval()])
            return
    op('oscout').sendOSC(address, [])
"""

RECEIVER_CALLBACKS = """# What the server sends: analysis into the `analysis` table, parameter changes into the custom parameters.
ANALYSIS = {'/performer/level': 'level', '/performer/peak': 'peak', '/performer/onset': 'onset',
            '/performer/centroid': 'centroid', '/performer/status/fps': 'fps',
            '/performer/status/latency_ms': 'latency_ms'}

def onReceiveOSC(dat, rowIndex, message, bytes, timeStamp, address, args, peer):
    table = op('analysis')
    if address == '/performer/class' and len(args) >= 3:
        table['class', 1] = args[0]
        table['confidence', 1] = args[2]
    elif address in ANALYSIS and args:
        table[ANALYSIS[address], 1] = args[0]
    elif address == '/performer/error' and len(args) >= 2:
        table['error', 1] = str(args[0]) + ': ' + str(args[1])
    else:
        params = op('params')
        for r in range(1, params.numRows):
            if params[r, 'address'].val == address and args and params[r, 'type'].val not in ('trigger',):
                par = getattr(parent().par, params[r, 'par'].val, None)
                if par is not None:
                    comp = parent()
                    comp.store('_receiving', True)
                    try:
                        par.val = args[0]
                    finally:
                        comp.store('_receiving', False)
                break
    return
"""


build()
