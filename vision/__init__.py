"""Django-free vision: face and person models, tracking, motion, incident scoring and their maths.

The bottom layer: apps, workers, tools and benchmarks import it; it imports none of them.
"""
