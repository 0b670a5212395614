import pytest

# The shared suites live in the package; let pytest explain their failed asserts.
pytest.register_assert_rewrite("traceway.storage.conformance", "traceway.storage.jaeger_corpus")
