using System;
using System.Collections.Generic;

namespace Deepbox;

/// <summary>
/// A trainable tensor of a model: its PyTorch name within the model, its value and its gradient, both in
/// PyTorch's layout (<c>weight_ih_l0</c> is <c>[gates * hiddenSize, inputSize]</c>, gates in PyTorch's order).
/// </summary>
public sealed class Parameter
{
    /// <summary>Creates a parameter of zeros with a gradient of zeros.</summary>
    /// <param name="name">The full name within its model, prefix included (<c>lstm.weight_ih_l0</c>).</param>
    /// <param name="shape">The shape of the value and of the gradient.</param>
    public Parameter(string name, params int[] shape)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        Value = Tensor.Zeros(shape);
        Grad = Tensor.Zeros(shape);
    }

    /// <summary>The full PyTorch name within its model, prefix included: <c>lstm.weight_ih_l0</c>.</summary>
    public string Name { get; }

    /// <summary>The values. Optimizers and loads write into it in place.</summary>
    public Tensor Value { get; }

    /// <summary>The gradient, same shape as <see cref="Value"/>; backward passes add into it.</summary>
    public Tensor Grad { get; }

    /// <summary>The shape of <see cref="Value"/> and <see cref="Grad"/>.</summary>
    public IReadOnlyList<int> Shape => Value.Shape;

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {Tensor.FormatShape(Value.Shape)}";
}
