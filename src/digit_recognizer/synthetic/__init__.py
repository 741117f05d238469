"""What we draw ourselves, for training and for scores: MNIST digits in people's styles
(``styles``), non-digits (``non_digits``), rows of digits (``rows``), uploads (``uploads``),
all put on paper the same way (``paper``) and cached (``cache``)."""
