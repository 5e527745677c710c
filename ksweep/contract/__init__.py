"""What every stage and the trainer share: the record schema, a run's state, the sweep folder's file names."""
