"""From a user's file to MNIST-style pixels, knowing nothing of models: decoding safely
(``decode``), ink told from paper (``ink``), and the digit cropped, scaled and centred by
mass in a 28x28 frame as MNIST itself was made (``centring``)."""
