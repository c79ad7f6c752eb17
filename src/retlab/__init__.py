"""retlab: train, evaluate and compare Retentive Networks and Transformers as language models.

Importing retlab registers its models with the transformers Auto classes, without importing torch or transformers
itself: at once when transformers is already imported, else the moment it is (see `registration`). So
`import retlab; AutoModelForCausalLM.from_pretrained(export)` works, and `retlab --help` stays instant.
Subpackages (`retlab.models`, `retlab.config`, ...) load on first use."""

from .lazy import lazy_getattr
from .registration import register_when_transformers_loads

__version__ = "0.1.0"

register_when_transformers_loads()
__getattr__ = lazy_getattr(__name__)
