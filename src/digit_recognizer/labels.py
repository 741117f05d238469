"""The label space: the ten digits, and the outputs a net may have beyond them.

A net has one of ``OUTPUT_COUNTS`` outputs: the ten digits; an 11th, "not a digit"
(``NOT_DIGIT``); and, for a reader of touching numbers, one output per pair of digits
written touching, "ab" being output ``PAIRS_FROM + 10 * a + b``.
"""

IMAGE_SIZE = 28
NUM_CLASSES = 10
NOT_DIGIT = 10
PAIRS_FROM = 11
OUTPUT_COUNTS = (NUM_CLASSES, NUM_CLASSES + 1, PAIRS_FROM + NUM_CLASSES**2)
