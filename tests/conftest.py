import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# Notebooks under tests/ are fixtures that the tests feed to nbval, the grader or the
# browser themselves; they are not lessons to run on their own.
collect_ignore_glob = ["fixtures/*", "*/fixtures/*"]
