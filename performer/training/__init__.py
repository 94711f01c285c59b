"""Offline: making and judging the classifier's models, never imported by the live server.

Data sets (UrbanSound8K, folder per class, manifests, background as ``none``) and what a run holds out
(:mod:`~performer.training.datasets`, :mod:`~performer.training.manifests`, :mod:`~performer.training.trainset`,
:mod:`~performer.training.folds`, :mod:`~performer.training.outside`); room augmentation
(:mod:`~performer.training.augment`); the training loop (:mod:`~performer.training.train`) on one process or under
torchrun (:mod:`~performer.training.distributed`), resumed (:mod:`~performer.training.resume`), warm-started
(:mod:`~performer.training.warmstart`) or taught by a teacher (:mod:`~performer.training.distil`), with its
progress line (:mod:`~performer.training.progress`); temperature calibration and the ``none`` rejection offset
(:mod:`~performer.training.calibration`, :mod:`~performer.training.rejection`); evaluation and its figures
(:mod:`~performer.training.evaluation`, :mod:`~performer.training.figures`). What the live server loads (the
models, checkpoints, :class:`~performer.classifier.inference.Classifier`) is :mod:`performer.classifier`.
"""
