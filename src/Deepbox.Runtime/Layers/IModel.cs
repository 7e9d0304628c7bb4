using System;
using System.Collections.Generic;

namespace Deepbox;

/// <summary>
/// What every generated model offers, so optimizers, losses and training helpers work on any of them.
/// </summary>
public interface IModel
{
    /// <summary>Whether the model is in training mode (dropout on, activations kept for a backward pass).</summary>
    bool IsTraining { get; }

    /// <summary>The parameters, in PyTorch's order (<c>module.parameters()</c>).</summary>
    IReadOnlyList<Parameter> Parameters();

    /// <summary>The parameters with their names, in PyTorch's order (<c>module.named_parameters()</c>).</summary>
    IEnumerable<(string Name, Parameter Parameter)> NamedParameters();

    /// <summary>Sets every parameter's gradient to zero.</summary>
    void ZeroGrad();

    /// <summary>Switches to training mode.</summary>
    void Train();

    /// <summary>
    /// Switches to evaluation mode (no dropout), in which any number of threads may run forward passes at once.
    /// </summary>
    /// <exception cref="InvalidOperationException">A training-mode Forward or Backward is running.</exception>
    void Eval();

    /// <summary>
    /// Threads a forward or backward pass may use: 1 (the default) or more. The batch is split across the process's persistent
    /// workers (<see cref="CompilerServices.Workers"/>), at least 4 sequences and <see cref="CompilerServices.Workers.MinWorkPerThread"/>
    /// floating-point operations (4 million) a thread, each sequence's whole run on one thread; smaller work runs on the
    /// caller, so a value above 1 never slows a call down (the measured crossover is in docs/benchmarks.md, "When Threads
    /// helps"). Backward splits the same way back through time, then splits each weight gradient by its columns. The
    /// results are the same bit for bit whatever the value. <c>Step</c> runs on the calling thread. Each pass
    /// reads the value once, when it starts, so it may be changed while passes run. The workers run one split pass at a
    /// time: a pass that starts while another holds them runs all its parts on its own thread (the same results), so
    /// many concurrent callers gain nothing from a value above 1.
    /// </summary>
    int Threads { get; set; }

    /// <summary>The model's layer declarations, as declared: what a tool that writes the model in another format reads.</summary>
    ModelArchitecture Architecture { get; }

    /// <summary>
    /// The parameter values by name in PyTorch's order and layout. The tensors are the model's own
    /// (as PyTorch's <c>state_dict()</c>): writing into them changes the model.
    /// </summary>
    IReadOnlyDictionary<string, Tensor> StateDict();

    /// <summary>
    /// Copies values into the parameters by name. Everything is checked before anything is copied, so a
    /// failed load changes nothing. Safe while evaluation passes run (each finishes on the old weights or runs on the
    /// new, never on a mix); refused with <see cref="InvalidOperationException"/> during a training-mode pass.
    /// </summary>
    /// <param name="stateDict">Tensors by PyTorch name, in PyTorch's layout.</param>
    /// <param name="strict">When true, a missing or unexpected name is an error; when false it is reported.</param>
    /// <returns>The names that were missing from <paramref name="stateDict"/> and the names it had that the model does not.</returns>
    LoadStateDictResult LoadStateDict(IReadOnlyDictionary<string, Tensor> stateDict, bool strict = true);

    /// <summary>Writes the parameters to a safetensors file (F32, PyTorch's names and layout).</summary>
    /// <param name="path">The file to write; replaced atomically.</param>
    void Save(string path);

    /// <summary>
    /// Loads the parameters from a safetensors file. The file and every name and shape are checked first: a failed load
    /// changes nothing (<see cref="SafetensorsException"/> for a bad file, <see cref="ArgumentException"/> for names or shapes).
    /// </summary>
    /// <param name="path">The file to read.</param>
    /// <param name="strict">When true, missing and unexpected names are errors; when false they are returned.</param>
    /// <returns>The names the file lacked and the names it had that the model does not.</returns>
    LoadStateDictResult Load(string path, bool strict = true);

    /// <summary>
    /// Runs the model on <paramref name="input"/> and returns a new output tensor. In evaluation mode any number of threads
    /// may call it at once; in training mode one caller at a time (an overlap throws <see cref="InvalidOperationException"/>).
    /// </summary>
    /// <param name="input">The input batch.</param>
    Tensor Forward(Tensor input);

    /// <summary>
    /// Runs the model on a caller-owned batch of sequences (the model's layout, row-major) into caller-owned memory,
    /// with zero initial states; allocation-free once the model's workspace has grown to the batch and length.
    /// </summary>
    /// <param name="input">The input values, <c>batch * seqLen * InputSize</c> of them.</param>
    /// <param name="batch">Sequences in the batch.</param>
    /// <param name="seqLen">Time steps per sequence.</param>
    /// <param name="output">Receives the output values; its length must match exactly.</param>
    void Forward(ReadOnlySpan<float> input, int batch, int seqLen, Span<float> output);

    /// <summary>
    /// Runs the model on sequences of different lengths padded to the input's <c>T</c>, as PyTorch runs
    /// <c>pack_padded_sequence(input, lengths, enforce_sorted=False)</c> then <c>pad_packed_sequence(..., total_length=T)</c>:
    /// each sequence runs its own steps only, and its outputs past its length are 0.
    /// </summary>
    /// <param name="input">The padded input batch.</param>
    /// <param name="lengths">Each sequence's length, in any order, each in [1, T].</param>
    Tensor Forward(Tensor input, int[] lengths);

    /// <summary>The span <c>Forward</c> on sequences of different lengths padded to <paramref name="seqLen"/> steps.</summary>
    /// <param name="input">The padded input values, <c>batch * seqLen * InputSize</c> of them.</param>
    /// <param name="batch">Sequences in the batch.</param>
    /// <param name="seqLen">Time steps of the layout.</param>
    /// <param name="lengths">Each sequence's length, in any order, each in [1, seqLen].</param>
    /// <param name="output">Receives the output values, 0 past each sequence's length; its length must match exactly.</param>
    void Forward(ReadOnlySpan<float> input, int batch, int seqLen, ReadOnlySpan<int> lengths, Span<float> output);

    /// <summary>
    /// Back-propagates through the last training-mode forward pass: adds every parameter's gradient into its
    /// <see cref="Parameter.Grad"/> and returns the gradient of the input.
    /// </summary>
    /// <param name="gradOutput">The gradient of the loss with respect to the output, shaped as the output.</param>
    /// <returns>The gradient with respect to the input, shaped as the input.</returns>
    Tensor Backward(Tensor gradOutput);

    /// <summary>
    /// <see cref="Backward(Tensor)"/> on caller-owned memory after the span <c>Forward</c>; allocation-free once the
    /// workspace has grown.
    /// </summary>
    /// <param name="gradOutput">The gradient with respect to the output, laid out as the output.</param>
    /// <param name="gradInput">Receives the gradient with respect to the input, or empty to skip it.</param>
    void Backward(ReadOnlySpan<float> gradOutput, Span<float> gradInput);
}
