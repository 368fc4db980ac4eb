import pytest

from mmhrformer.analysis.timing import median_seconds


def test_steps_take_turns_warmup_first_and_each_gets_a_median():
    calls = []
    steps = {name: (lambda name=name: calls.append(name)) for name in 'ab'}
    times = median_seconds(steps, warmup=1, repeats=3)
    assert calls == ['a', 'b'] * 4
    assert set(times) == {'a', 'b'} and all(seconds >= 0 for seconds in times.values())
    with pytest.raises(ValueError, match='repeats=0'):
        median_seconds(steps, repeats=0)
