"""Face pipeline stages: decode, detect, embed, score quality, enrol, match, calibrate.

Pure Python + numpy/OpenCV/dlib/DeepFace; no Django. Heavy models load lazily, once
per process, through the cached factories in ``detectors`` and ``embedders``.
"""
