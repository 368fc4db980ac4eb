"""Test isolation shared by every test."""
from typing import List

import pytest


def _manager_classes() -> List[type]:
    """mmengine's ``ManagerMixin`` and every subclass imported so far (loggers, message hubs,
    visualizers): each keeps its instances by name in a dictionary of its own."""
    from mmengine.utils import ManagerMixin
    classes, pending = [], [ManagerMixin]
    while pending:
        cls = pending.pop()
        classes.append(cls)
        pending.extend(cls.__subclasses__())
    return classes


@pytest.fixture(autouse=True)
def forget_the_runs_of_the_test_before():
    """A Runner names its logger, message hub and visualizer after its config file and the second
    it starts, and mmengine hands back the instance it has under that name: two runs of one config
    in the same second would write the second's config dump and log into the first's work
    directory (deleted by then, as pytest keeps the folders of failed tests only). Each test's runs
    are dropped when it ends, their log files closed."""
    before = {cls: set(cls._instance_dict) for cls in _manager_classes()}
    yield
    for cls in _manager_classes():
        for name in set(cls._instance_dict) - before.get(cls, set()):
            instance = cls._instance_dict.pop(name)
            for handler in getattr(instance, 'handlers', []):
                handler.close()
