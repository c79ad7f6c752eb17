"""retlab: train, evaluate and compare Retentive Networks and Transformers as language models.

Importing retlab registers its models with the transformers Auto classes."""

from . import models  # noqa: F401  (registration side effect)

__version__ = "0.1.0"
