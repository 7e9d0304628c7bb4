// The README's NativeAOT table: a package user's program (one streaming LSTM scorer), published with NativeAOT under
// several instruction sets by run.sh beside it. Prints the vector path, the mean time of one Step and of a number of
// training steps.
using System;
using System.Diagnostics;
using System.Runtime.Intrinsics;
using Deepbox;

var scorer = new Scorer(seed: 1);
scorer.Eval();
ModelState state = scorer.CreateState();
Span<float> y = stackalloc float[1];
float[] x = new float[1];
for (int i = 0; i < 20_000; i++) { x[0] = MathF.Sin(i * 0.01f); scorer.Step(x, state, y); }
int steps = args.Length > 0 ? int.Parse(args[0]) : 200_000;
var clock = Stopwatch.StartNew();
for (int i = 0; i < steps; i++) { x[0] = MathF.Sin(i * 0.01f); scorer.Step(x, state, y); }
double stepNs = clock.Elapsed.TotalNanoseconds / steps;

// 600 training steps: batch 32, 24 steps per sequence, Adam, MSE on the last step.
const int B = 32, T = 24;
var model = new Scorer(seed: 2);
var rnd = new Random(3);
var inputs = new float[B * T];
var targets = new float[B * T];
var outputs = new float[B * T];
var grads = new float[B * T];
for (int i = 0; i < inputs.Length; i++) { inputs[i] = (float)rnd.NextDouble(); targets[i] = inputs[i] * 0.5f; }
var adam = new Adam(model, lr: 1e-3f);
model.Train();
int trainSteps = args.Length > 1 ? int.Parse(args[1]) : 600;
float loss = 0;
clock.Restart();
for (int s = 0; s < trainSteps; s++)
{
    adam.ZeroGrad();
    model.Forward(inputs, B, T, outputs);
    loss = Losses.Mse(outputs, targets, grads);
    model.Backward(grads, Span<float>.Empty);
    adam.Step();
}
double trainS = clock.Elapsed.TotalSeconds;
Console.WriteLine($"V256 accelerated {Vector256.IsHardwareAccelerated}, V128 {Vector128.IsHardwareAccelerated}, V512 {Vector512.IsHardwareAccelerated}");
Console.WriteLine($"step {stepNs:F1} ns, {trainSteps} training steps {trainS:F3} s, loss {loss:G6}, y {y[0]:R}");

[Lstm(1, 32, BatchFirst = true)]
[Linear(32, 1)]
public partial class Scorer;
