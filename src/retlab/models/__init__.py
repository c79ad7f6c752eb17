"""Model layer: RetNet and Transformer++ as Hugging Face causal LMs (filled in by the models work)."""
