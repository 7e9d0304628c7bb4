using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Deepbox.CompilerServices;

/// <summary>
/// Helpers that generated models call: shape checks with the error messages users see, and the packing of
/// PyTorch-layout weights into the layout the generated kernels read. Not meant to be called by hand.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static partial class ModelSupport
{
    /// <summary>Throws the <see cref="ArgumentException"/> for a tensor of the wrong shape: <c>Expected input [*, *, 4], got [2, 3, 5]</c>.</summary>
    /// <param name="what">The argument (<c>input</c>, <c>h0</c>, ...).</param>
    /// <param name="expected">The expected shape as text; <c>*</c> for any size.</param>
    /// <param name="actual">The actual shape.</param>
    [DoesNotReturn]
    public static void ThrowShape(string what, string expected, IReadOnlyList<int> actual) =>
        throw new ArgumentException($"Expected {what} {expected}, got {Tensor.FormatShape(actual)}", what);

    /// <summary>Throws the <see cref="ArgumentException"/> for a span of the wrong length.</summary>
    /// <param name="what">The argument.</param>
    /// <param name="expected">The expected length and what it is made of.</param>
    /// <param name="actual">The actual length.</param>
    [DoesNotReturn]
    public static void ThrowLength(string what, string expected, int actual) =>
        throw new ArgumentException($"Expected {what} of length {expected}, got {actual}", what);

    /// <summary>Checks that a batch has at least one sequence of at least one step.</summary>
    /// <param name="batch">Sequences.</param>
    /// <param name="seqLen">Time steps.</param>
    public static void CheckSequenceSizes(int batch, int seqLen)
    {
        if (batch < 1 || seqLen < 1)
        {
            throw new ArgumentOutOfRangeException(
                batch < 1 ? nameof(batch) : nameof(seqLen),
                $"Expected at least one sequence of at least one step, got batch {batch} and seqLen {seqLen}");
        }
    }

    /// <summary>Checks that a span holds exactly <c>batch * seqLen * features</c> floats.</summary>
    /// <param name="what">The argument.</param>
    /// <param name="length">Its length.</param>
    /// <param name="batch">Sequences.</param>
    /// <param name="seqLen">Time steps (1 when the time dimension is gone).</param>
    /// <param name="features">Features per step.</param>
    public static void CheckLength(string what, int length, int batch, int seqLen, int features)
    {
        long expected = (long)batch * seqLen * features;
        if (length != expected)
        {
            ThrowLength(what, $"{batch} * {seqLen} * {features} = {expected}", length);
        }
    }

    /// <summary>Checks an optional state tensor against its exact shape.</summary>
    /// <param name="what">The argument (<c>h0</c>, <c>c0</c>).</param>
    /// <param name="state">The state, or null for zeros.</param>
    /// <param name="shape">The expected shape.</param>
    public static void CheckState(string what, Tensor? state, int[] shape)
    {
        if (state is not null && !state.HasShape(shape))
        {
            ThrowShape(what, Tensor.FormatShape(shape), state.Shape);
        }
    }

    /// <summary>Formats a shape of known sizes: <c>[2, 3, 8]</c>.</summary>
    /// <param name="dims">The sizes.</param>
    public static string Shape(params int[] dims) => Tensor.FormatShape(dims);

    private static bool s_stepVector512 = Vector512.IsHardwareAccelerated;

    /// <summary>
    /// Whether a model's <c>Step</c> runs its 512-bit kernels (generated for models whose recurrent layers' padded
    /// hidden sizes are whole numbers of 16-float vectors): true where <see cref="Vector512"/> is hardware-accelerated,
    /// and it cannot be made true elsewhere. Both kernels give the same bits (each lane sums in the same order and the
    /// activations are bit-identical at every width); the switch exists so that tests and comparisons can run the
    /// 256-bit ones on a machine with AVX-512.
    /// </summary>
    public static bool StepVector512
    {
        get => s_stepVector512;
        set => s_stepVector512 = value && Vector512.IsHardwareAccelerated;
    }

    /// <summary>
    /// Checks a model's input tensor: <c>[B, T, inputSize]</c> (<c>[T, B, inputSize]</c> when not batch-first) or unbatched
    /// <c>[T, inputSize]</c>, no dimension empty; throws naming the expected and the actual shape.
    /// </summary>
    /// <param name="input">The input.</param>
    /// <param name="inputSize">The model's features per step.</param>
    /// <param name="batchFirst">The model's layout.</param>
    /// <returns>The batch size, the sequence length and whether the input is unbatched.</returns>
    public static (int Batch, int SeqLen, bool Unbatched) CheckInput(Tensor input, int inputSize, bool batchFirst)
    {
        ArgumentNullException.ThrowIfNull(input);
        IReadOnlyList<int> s = input.Shape;
        if (input.Rank == 3 && s[2] == inputSize && s[0] > 0 && s[1] > 0)
        {
            return batchFirst ? (s[0], s[1], false) : (s[1], s[0], false);
        }

        if (input.Rank == 2 && s[1] == inputSize && s[0] > 0)
        {
            return (1, s[0], true);
        }

        string three = $"[*, *, {inputSize}]";
        string two = $"[*, {inputSize}]";
        string expected = input.Rank == 3 ? three : input.Rank == 2 ? two : three + " or " + two;
        ThrowShape("input", input.Length == 0 ? expected + " with no empty dimension" : expected, s);
        return default;
    }

    /// <summary>Checks the arguments of a streaming <c>Step</c>: one time step in, one out, and a state of this model.</summary>
    /// <param name="input">The input's length.</param>
    /// <param name="inputSize">The model's input size.</param>
    /// <param name="state">The state.</param>
    /// <param name="layout">The model's state layout (a state made by another model has another).</param>
    /// <param name="output">The output's length.</param>
    /// <param name="outputSize">The model's output size.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CheckStep(int input, int inputSize, ModelState state, StateLayout layout, int output, int outputSize)
    {
        // One branch on the hot path (a step can take tens of nanoseconds); the messages are built out of line.
        if (state is null || !ReferenceEquals(state.Layout, layout) || ((input - inputSize) | (output - outputSize)) != 0)
        {
            ThrowStep(input, inputSize, state, layout, output, outputSize);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowStep(int input, int inputSize, ModelState? state, StateLayout layout, int output, int outputSize)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (input != inputSize)
        {
            ThrowLength("input", $"{inputSize} (one time step)", input);
        }

        if (output != outputSize)
        {
            ThrowLength("output", $"{outputSize} (one time step)", output);
        }

        throw new ArgumentException(
            $"Expected a state of {layout.Model} (from its CreateState), got a state of {state.Layout.Model}: a state belongs to the model class that created it", nameof(state));
    }

    /// <summary>Creates a state of <paramref name="layout"/> from saved values, checking their number.</summary>
    /// <param name="layout">The model's state layout.</param>
    /// <param name="values">Values as <see cref="ModelState.Values"/> gives them.</param>
    /// <returns>The state.</returns>
    public static ModelState CreateState(StateLayout layout, ReadOnlySpan<float> values)
    {
        var state = new ModelState(layout);
        state.SetValues(values);
        return state;
    }

    /// <summary>
    /// Checks a tensor Backward takes: a training-mode forward pass to go back through, and the shape of its output.
    /// </summary>
    /// <param name="gradOutput">The gradient with respect to the output.</param>
    /// <param name="training">Whether the model is in training mode.</param>
    /// <param name="saved">Whether a training-mode forward pass was saved.</param>
    /// <param name="expected">The saved pass's output shape.</param>
    public static void CheckGradient(Tensor gradOutput, bool training, SavedPass saved, int[] expected)
    {
        ArgumentNullException.ThrowIfNull(gradOutput);
        CheckBackward(training, saved);
        if (!gradOutput.HasShape(expected))
        {
            ThrowShape("gradOutput", Shape(expected), gradOutput.Shape);
        }
    }

    /// <summary>Throws when <c>Backward</c> comes without a training-mode forward pass to go back through.</summary>
    /// <param name="training">Whether the model is in training mode.</param>
    /// <param name="saved">Whether a training-mode forward pass was saved, and whether a Backward went back through it.</param>
    public static void CheckBackward(bool training, SavedPass saved)
    {
        if (!training)
        {
            throw new InvalidOperationException("Backward needs training mode: call Train(), then Forward, then Backward (the model is in Eval mode).");
        }

        switch (saved)
        {
            case SavedPass.None:
                throw new InvalidOperationException("Backward needs a Forward in training mode first: there is no forward pass to go back through.");
            case SavedPass.Spent:
                throw new InvalidOperationException(
                    "Backward already went back through this forward pass: a second Backward would add the gradients again. " +
                    "Run Forward again first (PyTorch refuses the same: 'Trying to backward through the graph a second time').");
        }
    }
}
