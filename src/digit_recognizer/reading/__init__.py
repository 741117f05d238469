"""Reading an image: its marks (``marks``), the ways to cut them into digits (``lattice``),
the candidate parts as MNIST-style crops (``pieces``), the model's answer judged as a digit,
a number or "not a digit" (``reader``), and files, folders and globs read in batches
(``files``, ``answers``)."""
