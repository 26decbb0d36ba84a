"""Evaluation: reference feature extractors and sample-quality measures."""
