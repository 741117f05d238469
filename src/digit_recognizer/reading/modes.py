"""How an image is read (``mode=``): ``auto``, a number when two or more digit-sized marks
stand side by side, else one digit; ``digit``, the whole image is one digit; ``number``, a
row of digits. A module of its own so that checking a config loads no image code."""

MODES = ("auto", "digit", "number")
