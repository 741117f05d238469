"""Handwritten-digit recognition on MNIST: data, nets, training, tracking and inference."""
