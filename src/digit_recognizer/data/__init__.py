"""The digits a model learns from: the MNIST files fetched and checked (``mnist_files``) and
the Lightning DataModule that splits, augments and mixes in styled digits, non-digits and
cut parts (``datamodule``)."""
