"""The metric groups, one file each; importing this package registers them.

The order of the imports is the order of `genlab eval`'s output, so import sorting is off here.
"""
# isort: skip_file

from genlab.eval.groups import likelihood  # noqa: F401
from genlab.eval.groups import reconstruction  # noqa: F401
from genlab.eval.groups import quality  # noqa: F401
from genlab.eval.groups import diversity  # noqa: F401
from genlab.eval.groups import representation  # noqa: F401
from genlab.eval.groups import classification  # noqa: F401
