"""The parameter table: every parameter of every stage is declared here and nowhere else.

``PARAMS`` is the only list of parameters. OSC addresses, MIDI mappings,
preset validation, OSCQuery and the documentation's parameter table are all
derived from it (through :data:`performer.params.registry.REGISTRY`).
"""

from __future__ import annotations

from performer.params.spec import Param

PARAMS: tuple[Param, ...] = (
    # audio input
    Param("audio.gain", "float", 0.0, "audio", "Input gain applied before analysis.", "dB",
          -24.0, 24.0, clamp=True, slew=0.05),
    Param("audio.gate", "float", -70.0, "audio",
          "Level below which the input counts as silence: the classifier holds its last class.", "dBFS",
          -120.0, 0.0, clamp=True),
    # classifier
    Param("classifier.enabled", "bool", True, "classifier",
          "Run the sound classifier; when off the top class stays where it is."),
    Param("classifier.window", "float", 1.0, "classifier",
          "Length of the sound window each classification looks at.", "s", 0.5, 4.0, clamp=True),
    Param("classifier.hop", "float", 0.1, "classifier",
          "Time between two classifications of the sliding window.", "s", 0.1, 1.0, clamp=True),
    Param("classifier.smoothing", "float", 0.3, "classifier",
          "Time constant of the exponential smoothing of class probabilities.", "s", 0.0, 5.0, clamp=True),
    Param("classifier.hysteresis", "float", 0.1, "classifier",
          "How far a new class's smoothed probability must exceed the current class's before the top class changes.",
          "", 0.0, 0.5, clamp=True),
    Param("classifier.hold", "float", 1.0, "classifier",
          "Minimum time the top class is kept before it may change again.", "s", 0.0, 10.0, clamp=True),
    Param("classifier.lock", "bool", False, "classifier",
          "Freeze the top class: the dream keeps its image whatever the sound does."),
    Param("classifier.fast", "bool", True, "classifier",
          "The fast path: a new sound (see classifier.novelty) is named from its first moments, without waiting "
          "for it to fill the window, the smoothing or the hold."),
    Param("classifier.fast_window", "float", 0.15, "classifier",
          "How much of a new sound the fast path hears before it may name it.", "s", 0.1, 1.0, clamp=True),
    Param("classifier.fast_confidence", "float", 0.35, "classifier",
          "Probability the fast path's class needs before it takes over.", "",
          0.0, 1.0, clamp=True),
    Param("classifier.novelty", "float", 1.2, "classifier",
          "How different the latest hop must sound from the second before it to count as a new sound for the "
          "fast path: the mean change over mel bands, each in units of its own variation (std in dB + 3 dB).",
          "", 0.2, 5.0, clamp=True),
    # analysis: spectrum bands
    Param("analysis.bands", "int", 3, "classifier",
          "Number of log-spaced spectrum bands (30 Hz to 16 kHz) the analyser measures besides low, mid and high: "
          "modulation sources band.1 .. band.N and the tail of /performer/bands, each in dBFS.", "", 1, 32,
          clamp=True),
    Param("analysis.attack", "float", 0.01, "classifier",
          "Attack of the band envelopes (env.low, env.1 ...: each band 0..1 against its own recent peak): time "
          "constant with which an envelope rises, updated each analysis hop (0: at once).", "s", 0.0, 2.0,
          clamp=True),
    Param("analysis.release", "float", 0.25, "classifier",
          "Release of the band envelopes and of the hits (hit.low, the kick, ...): time constant with which they "
          "fall back towards 0.", "s", 0.0, 5.0, clamp=True),
    Param("analysis.hit", "float", 6.0, "classifier",
          "How many dB a band must rise from one analysis hop to the next, into the top half of its 0..1 range, "
          "to count as a hit: hit.low (the kick), hit.mid ... jump to 1 and fall with analysis.release.", "dB",
          1.0, 30.0, clamp=True),
    # mapping
    Param("mapping.enabled", "bool", True, "mapping",
          "Apply the preset's modulation matrix (sound and glove acting on parameters)."),
    Param("mapping.depth", "float", 1.0, "mapping",
          "Master depth that scales every modulation route.", "", 0.0, 2.0, clamp=True, slew=0.1),
    # dream renderer
    Param("dream.network", "enum", "efficientnet_lite0", "dream",
          "ImageNet network the dream climbs; all but efficientnet_lite0 need torchvision's weights in TORCH_HOME.",
          choices=("efficientnet_lite0", "googlenet", "vgg16", "resnet50")),
    Param("dream.layers", "string", "", "dream",
          "Layers to dream on with weights, e.g. 'blocks.4=1,blocks.5=0.5'; empty means the network's default.",
          max_length=1000),  # performer.dream.layers.MAX_SPEC
    Param("dream.iterations", "int", 2, "dream",
          "Gradient-ascent steps per octave for each dreamed frame.", "", 1, 20, clamp=True),
    Param("dream.octaves", "int", 1, "dream", "Number of image scales dreamed per frame.", "", 1, 6, clamp=True),
    Param("dream.octave_scale", "float", 1.4, "dream", "Size ratio between two octaves.", "", 1.1, 2.0, clamp=True),
    Param("dream.lr", "float", 0.02, "dream", "Step size (learning rate) of each gradient-ascent step.", "",
          0.001, 0.2, clamp=True, slew=0.2),
    Param("dream.jitter", "int", 8, "dream", "Random shift applied before each step, against grid artefacts.", "px",
          0, 64, clamp=True),
    Param("dream.grad_norm", "enum", "mean_abs", "dream", "How each step's gradient is normalised.",
          choices=("mean_abs", "std", "none")),
    Param("dream.grad_smooth", "float", 1.0, "dream", "Gaussian blur of the gradient, for smoother patterns.", "px",
          0.0, 4.0, clamp=True),
    Param("dream.robustness", "float", 1.0, "dream",
          "Random scale and rotation before each step (0 off, 1 = up to 8 % and 8 degrees): only patterns that "
          "survive small transforms grow, so guidance draws objects instead of speckle.", "", 0.0, 2.0, clamp=True),
    Param("dream.freq_decay", "float", 1.0, "dream",
          "Exponent of the 1/f filter on each step (0 off): large shapes grow before fine grain.", "",
          0.0, 2.0, clamp=True),
    Param("dream.decorrelate", "bool", True, "dream",
          "Take each step in ImageNet's decorrelated colour space (natural colours instead of rainbow fringes)."),
    Param("dream.width", "int", 320, "dream", "Width of the picture the network dreams (outputs scale it).", "px",
          64, 1920, clamp=True),
    Param("dream.height", "int", 180, "dream", "Height of the picture the network dreams (outputs scale it).", "px",
          64, 1080, clamp=True),
    Param("dream.tile", "int", 0, "dream",
          "Largest side of the piece of an octave one step dreams (0: whole octaves, taking turns a frame each). "
          "Above 0 the smallest octave is dreamed every frame and the larger ones a tile a frame, so a picture "
          "at the output's size gets its fine structure dreamed where it is seen.", "px", 0, 1920, clamp=True),
    Param("dream.colour_hold", "float", 0.5, "dream",
          "How far each second the picture's brightness, contrast, mean colour and saturation move to its "
          "class's (its portrait's, tinted by the preset's [classes.X] colour); 0 lets colour drift.", "",
          0.0, 1.0, clamp=True, slew=0.2),
    Param("dream.guide_weight", "float", 5.0, "dream",
          "Weight of the push towards the sound classes' ImageNet targets (0 = plain Deep Dream).", "",
          0.0, 10.0, clamp=True, slew=0.3),
    Param("dream.follow_confidence", "float", 0.45, "dream",
          "Smoothed probability the top class needs before the guidance follows the sound; below it (silence, "
          "none of the classes, an unsure classifier) the dream keeps its current picture.", "",
          0.0, 1.0, clamp=True),
    Param("dream.class_change", "enum", "morph", "dream",
          "What a class change does: morph keeps the image and moves the guidance over dream.crossfade; "
          "restart starts a new dream from the class's seed.", choices=("morph", "restart")),
    Param("dream.portrait_pull", "float", 0.5, "dream",
          "How much of the picture a class change turns into the new class's portrait over the crossfade, "
          "region by region (0 keeps the picture, 1 arrives at the portrait).", "", 0.0, 1.0, clamp=True, slew=0.2),
    Param("dream.seed", "enum", "class_image", "dream",
          "Where a dream starts: the class's image (the preset's, else its built-in portrait), the live "
          "spectrogram, noise, or the previous frame.",
          choices=("class_image", "spectrogram", "noise", "previous")),
    Param("dream.blend", "float", 0.0, "dream",
          "Pull of each frame back towards the current class's portrait (or the seed image).", "",
          0.0, 1.0, clamp=True, slew=0.2),
    Param("dream.crossfade", "float", 2.0, "dream",
          "Time over which the guidance moves to a new class (and a restarted dream fades in).",
          "s", 0.0, 10.0, clamp=True),
    Param("dream.zoom", "float", 1.0, "dream",
          "Zoom applied to the image each output frame (endless zoom above 1).", "x", 0.9, 1.2, clamp=True, slew=0.2),
    Param("dream.rotate", "float", 0.0, "dream", "Rotation applied to the image each output frame.", "deg",
          -10.0, 10.0, clamp=True, slew=0.2),
    Param("dream.translate_x", "float", 0.0, "dream", "Horizontal shift applied to the image each output frame.",
          "px", -32.0, 32.0, clamp=True, slew=0.2),
    Param("dream.translate_y", "float", 0.0, "dream", "Vertical shift applied to the image each output frame.",
          "px", -32.0, 32.0, clamp=True, slew=0.2),
    Param("dream.restart", "trigger", None, "dream", "Start the dream anew from the current class's seed."),
    # video
    Param("video.weight", "float", 0.0, "dream",
          "How much of the live video (the preset's [video] source or serve --video: NDI, a camera, a file) goes "
          "into the picture: 0 off; in blend mode each dreamed frame moves this share of the way to the video's "
          "newest frame, so the dream keeps growing on it.", "", 0.0, 1.0, clamp=True, slew=0.2),
    Param("video.mode", "enum", "blend", "dream",
          "How the live video acts: blend pulls every dreamed frame towards it; restart mixes it (by video.weight) "
          "only into the seed of each new dream (on dream.restart, or a class change when dream.class_change is "
          "restart).",
          choices=("blend", "restart")),
    # output
    Param("output.fps", "float", 30.0, "output",
          "Rate at which the outputs get frames, whatever the dream's own rate (frames in between are "
          "interpolated).", "fps", 1.0, 120.0, clamp=True),
    Param("output.layout", "enum", "dream", "output",
          "What the outputs show: the dream alone, or the paper's composite of dream, probabilities and spectrogram.",
          choices=("dream", "composite")),
    # master
    Param("master.brightness", "float", 0.0, "output",
          "Brightness added to the output after the dream: -1 black .. 1 white, as a share of full scale.", "",
          -1.0, 1.0, clamp=True, slew=0.1),
    Param("master.contrast", "float", 1.0, "output",
          "Contrast of the output about mid grey: 0 flat grey, 1 unchanged, 2 double.", "x", 0.0, 2.0,
          clamp=True, slew=0.1),
    Param("master.saturation", "float", 1.0, "output",
          "Colour saturation of the output: 0 grey, 1 unchanged, 2 double.", "x", 0.0, 2.0, clamp=True, slew=0.1),
    Param("master.hue", "float", 0.0, "output", "Hue rotation of the output's colours.", "deg", -180.0, 180.0,
          clamp=True, slew=0.1),
    Param("master.fade", "float", 0.0, "output",
          "Fade to black: 0 full picture .. 1 black; a jump glides over a second.", "", 0.0, 1.0, clamp=True,
          slew=1.0),
    Param("master.freeze", "bool", False, "output",
          "Hold the output on the frame it shows now, while the dream goes on underneath; off cuts back to it."),
    Param("master.blackout", "trigger", None, "output",
          "Black at once; fire again to bring the picture back (an odd number of fires is black)."),
    # control
    Param("control.osc_out_rate", "float", 30.0, "control", "Rate of the analysis messages sent over OSC.", "Hz",
          1.0, 120.0, clamp=True),
    # crossfader: an A/B fader between two presets (performer.presets.crossfader)
    Param("crossfader.a", "string", "", "control",
          "The preset at the crossfader's A end (0), by name: your preset folder first, then the shipped presets.",
          max_length=100),  # performer.presets.folders.MAX_NAME_CHARS
    Param("crossfader.b", "string", "", "control",
          "The preset at the crossfader's B end (1), by name: your preset folder first, then the shipped presets.",
          max_length=100),
    Param("crossfader.position", "float", 0.0, "control",
          "Moving it mixes crossfader.a and crossfader.b: numbers in proportion, the rest switch at 0.5; "
          "only a move applies, a recall leaves it where it is.", "", 0.0, 1.0, clamp=True),
    # tempo
    Param("tempo.source", "enum", "audio", "control",
          "Where the beat comes from: the input's own beat (tracked from the sound), tap tempo (tempo.tap, or "
          "tempo.bpm set by hand), MIDI clock in (tempo.midi_input), or an Ableton Link session.",
          choices=("audio", "tap", "midi", "link")),
    Param("tempo.quantize", "enum", "off", "control",
          "Hold preset recalls, restarts and class changes until the next beat or the next bar of the tempo.",
          choices=("off", "beat", "bar")),
    Param("tempo.tap", "trigger", None, "control",
          "Tap tempo (tempo.source = tap): each tap is a beat; the first after a 2-s pause begins a bar, "
          "two or more set tempo.bpm."),
    Param("tempo.bpm", "float", 120.0, "control",
          "The tempo of tempo.source = tap, set by tapping or by hand (the phase goes on).", "BPM",
          40.0, 240.0, clamp=True),
    Param("tempo.downbeat", "trigger", None, "control",
          "The beat nearest now begins a bar: the bar phase restarts there, whatever the tempo source."),
    Param("tempo.latency", "float", 0.0, "control",
          "How far ahead of the source the beat runs, to make up for the input's and the video's delay.", "ms",
          -200.0, 500.0, clamp=True),
    Param("tempo.midi_input", "string", "", "control",
          "MIDI input ports whose clock tempo.source = midi follows: a part of the port name (empty: any port).",
          max_length=256),
    Param("tempo.double", "trigger", None, "control",
          "The beat twice as fast (x2), whatever the source: tap tempo's tempo.bpm doubles, a Link session's "
          "tempo doubles for every peer, the audio tracker's and the MIDI clock's count runs twice as fast."),
    Param("tempo.halve", "trigger", None, "control",
          "The beat half as fast (/2), whatever the source (as tempo.double)."),
    Param("tempo.nudge", "float", 0.0, "control",
          "Moves the beat later (positive) or earlier by this much, whatever the source: line the grid up by ear.",
          "ms", -250.0, 250.0, clamp=True),
    Param("tempo.link_start_stop", "bool", False, "control",
          "With tempo.source = link, follow the session's start and stop (Link start/stop sync): stopped, the "
          "beat stands still and what waits for the beat happens at once."),
)
