from tests.e2e.conftest import *  # noqa: F403 (the shared emulator fixtures)
