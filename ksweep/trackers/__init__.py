"""The observer seam's trackers: MLflow, TensorBoard, W&B, trackio."""
