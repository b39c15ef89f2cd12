"""ART: model, training, export."""
