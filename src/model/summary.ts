// The model as PyTorch's print(model) shows the tutorial's module, plus what
// print(model) cannot show: the order of the forward pass.
import { PARAMETER_COUNT } from './parameters';

export function modelSummary(): string {
  return [
    'Net(',
    '  (conv1): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))',
    '  (pool): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)',
    '  (conv2): Conv2d(6, 16, kernel_size=(5, 5), stride=(1, 1))',
    '  (fc1): Linear(in_features=400, out_features=120, bias=True)',
    '  (fc2): Linear(in_features=120, out_features=84, bias=True)',
    '  (fc3): Linear(in_features=84, out_features=10, bias=True)',
    ')',
    'forward: conv1 -> relu -> pool -> conv2 -> pool -> flatten(400) -> fc1 -> relu -> fc2 -> relu -> fc3 -> log_softmax',
    '         (no ReLU after conv2: the tutorial has none, and we keep its network as it is)',
    `parameters: ${PARAMETER_COUNT.toLocaleString('en-US')}`,
  ].join('\n');
}
