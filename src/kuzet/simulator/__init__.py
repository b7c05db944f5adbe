"""A synthetic region of people under supervision, for demos, load tests and engine scoring.

The simulator knows the truth: where each person really was, and which violations really happened. It
produces what devices would report (noisy, late, incomplete) and the ground-truth episodes beside it.
"""
