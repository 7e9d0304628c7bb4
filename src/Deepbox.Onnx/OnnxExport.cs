using System;
using System.IO;
using Google.Protobuf;

namespace Deepbox.Onnx;

/// <summary>What <see cref="OnnxExport"/> writes besides the graph.</summary>
public sealed class OnnxExportOptions
{
    /// <summary>The graph's name (default: the model class's name).</summary>
    public string? GraphName { get; init; }

    /// <summary>The model's version number in the file (ONNX's <c>model_version</c>; default 1).</summary>
    public long ModelVersion { get; init; } = 1;

    /// <summary>A free text stored as the model's documentation (default: the model's layers, as <c>ToString()</c> prints them).</summary>
    public string? DocString { get; init; }

    /// <summary>
    /// Whether the graph takes one unbatched sequence, <c>[sequence, features]</c>, as the model's <c>Forward</c> does
    /// for 2-D input: the output is then <c>[sequence, features]</c> (<c>[features]</c> after <c>LastStep</c>) and the
    /// states <c>[num_layers * num_directions, hidden]</c>. Default false: a batch axis, dynamic.
    /// </summary>
    public bool Unbatched { get; init; }

    /// <summary>
    /// Whether the graph takes each sequence's length, as the model's <c>Forward(input, lengths)</c> does: a required
    /// input <c>sequence_lens</c>, int32 <c>[batch]</c>, each in [1, sequence], fed to every recurrent operator (ONNX's
    /// own <c>sequence_lens</c>). Outputs past each length are 0, final states are each sequence's own, and
    /// <c>LastStep</c> takes each sequence's output at step <c>length - 1</c>. Default false. Not with <see cref="Unbatched"/>.
    /// </summary>
    public bool SequenceLengths { get; init; }
}

/// <summary>
/// Writes a Deepbox model as an ONNX model, computing what the model's evaluation-mode <c>Forward</c> computes, with
/// standard operators only (opset <see cref="OpsetVersion"/>): <c>LSTM</c>, <c>GRU</c> (with
/// <c>linear_before_reset = 1</c>, PyTorch's form) and <c>RNN</c> for the recurrent layers, <c>Gemm</c> for
/// <c>Linear</c>, <c>Gather</c> for <c>LastStep</c> and for an <c>Embedding</c> (whose model's input is int64 token ids), and <c>Transpose</c>, <c>Reshape</c>, <c>Slice</c>,
/// <c>Concat</c>, <c>Expand</c>, <c>Shape</c> and activations around them.
/// </summary>
/// <remarks>
/// <para>
/// <b>Inputs and outputs.</b> <c>input</c> is <c>[batch, sequence, features]</c> for a batch-first model and
/// <c>[sequence, batch, features]</c> otherwise; batch and sequence are dynamic axes, so one file serves every batch
/// size and length. <c>output</c> is what <c>Forward</c> returns (<c>[batch, features]</c> after <c>LastStep</c>).
/// Each recurrent declaration adds its initial states as optional inputs, zeros when not fed, and its final states as
/// outputs, shaped as PyTorch's <c>[num_layers * num_directions, batch, hidden]</c>: <c>h0</c>/<c>c0</c> and
/// <c>hn</c>/<c>cn</c> for a model with one recurrent declaration, else prefixed with the declaration's parameter
/// prefix or position (<c>encoder.h0</c>, <c>1.hn</c>).
/// </para>
/// <para>
/// <b>Weights</b> are initializers named after PyTorch's parameters. A <c>Linear</c> layer's are its own tensors
/// (<c>fc.weight</c>, <c>fc.bias</c>). A recurrent layer's are converted as ONNX's operators want them, and their
/// documentation says from what: <c>lstm.weight_ih_l0</c> holds <c>weight_ih_l0</c> (and <c>weight_ih_l0_reverse</c>)
/// with the gates reordered (LSTM i, f, g, o to ONNX's i, o, f, c; GRU r, z, n to z, r, h) and a leading direction
/// axis; <c>lstm.bias_l0</c> holds <c>bias_ih_l0</c> and <c>bias_hh_l0</c> side by side.
/// </para>
/// <para>
/// <b>Opset 14</b> is the lowest version the exported operators need in the form used here (the recurrent operators'
/// <c>layout</c> attribute, and <c>Slice</c>'s and <c>Squeeze</c>'s inputs as tensors, date from opsets 13 and 14), so
/// the widest range of runtimes loads the files. Dropout is a training-time operation and is not exported.
/// </para>
/// <para>
/// <b>Threads.</b> Exporting reads the parameters as they are, as <c>Save</c> does: any number of threads may export
/// a model, and serve it with evaluation-mode <c>Forward</c>, at once. Export between training steps: an optimizer
/// changing the parameters on another thread at the same time would be caught half-way.
/// </para>
/// </remarks>
public static class OnnxExport
{
    /// <summary>The ONNX operator set the files use.</summary>
    public const int OpsetVersion = 14;

    /// <summary>The ONNX IR version the files declare (that of ONNX 1.9, which introduced opset 14).</summary>
    public const int IrVersion = 7;

    /// <summary>
    /// Writes <paramref name="model"/> to <paramref name="path"/> as an ONNX model, as <c>Safetensors.Save</c> writes:
    /// under a temporary name beside the destination, flushed, then moved over it, so a failure leaves no partial file.
    /// </summary>
    /// <param name="model">The model; its current weights are written.</param>
    /// <param name="path">The file.</param>
    /// <param name="options">Names and documentation, or null for the defaults.</param>
    /// <exception cref="NotSupportedException">The model has a layer this exporter cannot write exactly (none of the
    /// generator's layers today).</exception>
    public static void Save(IModel model, string path, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes = ToBytes(model, options);
        global::Deepbox.CompilerServices.AtomicFile.Write(path, stream => stream.Write(bytes));
    }

    /// <summary>Writes <paramref name="model"/> to <paramref name="stream"/> as an ONNX model.</summary>
    /// <param name="model">The model; its current weights are written.</param>
    /// <param name="stream">A writable stream; left open.</param>
    /// <param name="options">Names and documentation, or null for the defaults.</param>
    /// <exception cref="NotSupportedException">The model has a layer this exporter cannot write exactly.</exception>
    public static void Save(IModel model, Stream stream, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stream);
        byte[] bytes = ToBytes(model, options);
        stream.Write(bytes);
    }

    /// <summary>The ONNX model's bytes.</summary>
    /// <param name="model">The model.</param>
    /// <param name="options">Names and documentation, or null for the defaults.</param>
    public static byte[] ToBytes(IModel model, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return GraphBuilder.Build(model, options ?? new OnnxExportOptions()).ToByteArray();
    }
}
