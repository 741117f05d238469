"""Measuring tools (training speed, API load): kept out of the installed package."""
