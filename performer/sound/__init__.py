"""What every stage knows about sound: the log-mel features and the class labels.

``features`` turns sound into the log-mel spectrogram the classifier sees (librosa, its numpy and torch twins,
the mel filter bank the tempo tracker and the novelty detector share); ``labels`` holds the class names with a
meaning of their own (``none``, "none of these") and UrbanSound8K's ten. Both sit below the analysis, the
classifier, its training, the dream and the outputs, so that none of those imports another to learn them.
"""
