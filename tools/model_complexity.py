"""Prints parameters and FLOPs of our HRFormer models beside the paper's figures.

    python tools/model_complexity.py
"""
from mmhrformer.analysis import count_flops_and_params
from mmhrformer.analysis.complexity import __doc__ as COUNTER_NOTE
from mmhrformer.analysis.paper_models import paper_models


def main():
    print('| model | input | params (M) | paper params (M) | GFLOPs | paper GFLOPs |')
    print('| --- | --- | --- | --- | --- | --- |')
    for name, (model, shape, (paper_params, paper_flops)) in paper_models().items():
        counted = count_flops_and_params(model, shape)
        print(f"| {name} | {shape[1]}x{shape[2]} | {counted['params'] / 1e6:.2f} | "
              f"{paper_params} | {counted['flops'] / 1e9:.2f} | {paper_flops} |")
    print('\nHow FLOPs are counted:', COUNTER_NOTE)


if __name__ == '__main__':
    main()
