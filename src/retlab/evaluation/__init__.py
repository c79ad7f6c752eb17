"""retlab.evaluation: `retlab eval` and `retlab generate`.

- evaluate.py    `evaluate(cfg)`: every model side by side -> runs/<name>/eval/results.json and a table (cached)
- perplexity.py  loss, perplexity and bits per byte on the test split, sliding window
- mqar.py        MQAR recall accuracy, overall and per number of key-value pairs
- harness.py     lm-evaluation-harness through its Python API; tasks/ holds its YAMLs over local data
- generate.py    `generate(cfg)`: streamed, batched, seeded decoding through the model's cache
- checkpoints.py which models (run, architecture or export folders) and loading them with their tokenizer
"""
