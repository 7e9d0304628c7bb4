using System;

// This file is compiled into the generator too (linked, with DEEPBOX_GENERATOR defined: its types internal, in a
// namespace of their own so that nothing that sees the generator's internals confuses them with the runtime's), so the
// generator reads the attributes' defaults and enum values from the very definitions users compile against.
#if DEEPBOX_GENERATOR
namespace Deepbox.Generators.Linked;
#else
namespace Deepbox;
#endif

/// <summary>The nonlinearity of an Elman <see cref="RnnAttribute"/> layer, as PyTorch's <c>nonlinearity</c>.</summary>
#if DEEPBOX_GENERATOR
internal
#else
public
#endif
enum Nonlinearity
{
    /// <summary><c>h' = tanh(W_ih x + b_ih + W_hh h + b_hh)</c> (the default).</summary>
    Tanh,

    /// <summary><c>h' = relu(W_ih x + b_ih + W_hh h + b_hh)</c>.</summary>
    Relu,
}

/// <summary>The elementwise function applied after a <see cref="LinearAttribute"/> layer.</summary>
#if DEEPBOX_GENERATOR
internal
#else
public
#endif
enum Activation
{
    /// <summary>No activation: <c>y = W x + b</c> (the default).</summary>
    None,

    /// <summary><c>y = tanh(W x + b)</c>.</summary>
    Tanh,

    /// <summary><c>y = max(0, W x + b)</c>.</summary>
    Relu,

    /// <summary><c>y = 1 / (1 + exp(-(W x + b)))</c>.</summary>
    Sigmoid,
}

/// <summary>
/// Options shared by the recurrent layer attributes (<see cref="RnnAttribute"/>, <see cref="LstmAttribute"/>,
/// <see cref="GruAttribute"/>). Their defaults are deepbox's: batch-first input, one layer, biases on.
/// </summary>
#if DEEPBOX_GENERATOR
internal
#else
public
#endif
abstract class RecurrentLayerAttribute : Attribute
{
    /// <summary>Creates the layer description.</summary>
    /// <param name="inputSize">Features per time step coming in (PyTorch's <c>input_size</c>).</param>
    /// <param name="hiddenSize">Features of the hidden state (PyTorch's <c>hidden_size</c>).</param>
    protected RecurrentLayerAttribute(int inputSize, int hiddenSize)
    {
        InputSize = inputSize;
        HiddenSize = hiddenSize;
    }

    /// <summary>Features per time step coming in.</summary>
    public int InputSize { get; }

    /// <summary>Features of the hidden state.</summary>
    public int HiddenSize { get; }

    /// <summary>Stacked layers (PyTorch's <c>num_layers</c>); 1 by default.</summary>
    public int NumLayers { get; set; } = 1;

    /// <summary>Whether the layer has <c>b_ih</c> and <c>b_hh</c>; true by default.</summary>
    public bool Bias { get; set; } = true;

    /// <summary>
    /// Input and output as <c>[B, T, F]</c> when true (the default, as deepbox), <c>[T, B, F]</c> when false
    /// (PyTorch's default). States are <c>[L*D, B, H]</c> either way.
    /// </summary>
    public bool BatchFirst { get; set; } = true;

    /// <summary>Runs a second direction over the reversed sequence; outputs are concatenated (<c>2 * hiddenSize</c>).</summary>
    public bool Bidirectional { get; set; }

    /// <summary>Dropout probability on the outputs of every stacked layer but the last, in training mode only.</summary>
    public float Dropout { get; set; }

    /// <summary>Prefix of this layer's parameter names (<c>lstm</c> gives <c>lstm.weight_ih_l0</c>).</summary>
    public string? Name { get; set; }
}

/// <summary>
/// An Elman RNN layer, as PyTorch's <c>nn.RNN</c>: <c>h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
#if DEEPBOX_GENERATOR
internal
#else
public
#endif
sealed class RnnAttribute : RecurrentLayerAttribute
{
    /// <summary>Declares an RNN layer of <paramref name="inputSize"/> features in and <paramref name="hiddenSize"/> out.</summary>
    /// <param name="inputSize">Features per time step coming in.</param>
    /// <param name="hiddenSize">Features of the hidden state.</param>
    public RnnAttribute(int inputSize, int hiddenSize) : base(inputSize, hiddenSize)
    {
    }

    /// <summary>The nonlinearity: <see cref="Deepbox.Nonlinearity.Tanh"/> (default) or <see cref="Deepbox.Nonlinearity.Relu"/>.</summary>
    public Nonlinearity Nonlinearity { get; set; } = Nonlinearity.Tanh;
}

/// <summary>
/// A long short-term memory layer, as PyTorch's <c>nn.LSTM</c> (gates i, f, g, o in that order in the weights).
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
#if DEEPBOX_GENERATOR
internal
#else
public
#endif
sealed class LstmAttribute : RecurrentLayerAttribute
{
    /// <summary>Declares an LSTM layer of <paramref name="inputSize"/> features in and <paramref name="hiddenSize"/> out.</summary>
    /// <param name="inputSize">Features per time step coming in.</param>
    /// <param name="hiddenSize">Features of the hidden and cell state.</param>
    public LstmAttribute(int inputSize, int hiddenSize) : base(inputSize, hiddenSize)
    {
    }
}

/// <summary>
/// A gated recurrent unit layer, as PyTorch's <c>nn.GRU</c> (gates r, z, n in that order in the weights).
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
#if DEEPBOX_GENERATOR
internal
#else
public
#endif
sealed class GruAttribute : RecurrentLayerAttribute
{
    /// <summary>Declares a GRU layer of <paramref name="inputSize"/> features in and <paramref name="hiddenSize"/> out.</summary>
    /// <param name="inputSize">Features per time step coming in.</param>
    /// <param name="hiddenSize">Features of the hidden state.</param>
    public GruAttribute(int inputSize, int hiddenSize) : base(inputSize, hiddenSize)
    {
    }
}

/// <summary>
/// A fully connected layer over the last dimension, as PyTorch's <c>nn.Linear</c>, with an optional activation.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
#if DEEPBOX_GENERATOR
internal
#else
public
#endif
sealed class LinearAttribute : Attribute
{
    /// <summary>Declares <c>y = activation(W x + b)</c> with <c>W</c> of shape <c>[outFeatures, inFeatures]</c>.</summary>
    /// <param name="inFeatures">Features coming in.</param>
    /// <param name="outFeatures">Features going out.</param>
    public LinearAttribute(int inFeatures, int outFeatures)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
    }

    /// <summary>Features coming in.</summary>
    public int InFeatures { get; }

    /// <summary>Features going out.</summary>
    public int OutFeatures { get; }

    /// <summary>Whether the layer has a bias; true by default.</summary>
    public bool Bias { get; set; } = true;

    /// <summary>The function applied to the output; <see cref="Deepbox.Activation.None"/> by default.</summary>
    public Activation Activation { get; set; } = Activation.None;

    /// <summary>Prefix of this layer's parameter names (<c>fc</c> gives <c>fc.weight</c>).</summary>
    public string? Name { get; set; }
}

/// <summary>
/// A lookup table of token vectors, as PyTorch's <c>nn.Embedding</c>: the model takes token ids (<c>[B, T]</c> ints)
/// and each id picks its row of <c>weight</c> (<c>[numEmbeddings, embeddingDim]</c>, initialized N(0, 1) as PyTorch does).
/// Only as the first layer.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
#if DEEPBOX_GENERATOR
internal
#else
public
#endif
sealed class EmbeddingAttribute : Attribute
{
    /// <summary>The <see cref="PaddingIdx"/> of a table without a padding row.</summary>
    public const int NoPadding = -1;

    /// <summary>Declares a table of <paramref name="numEmbeddings"/> vectors of <paramref name="embeddingDim"/> floats.</summary>
    /// <param name="numEmbeddings">The vocabulary size: ids run from 0 to <c>numEmbeddings - 1</c>.</param>
    /// <param name="embeddingDim">Floats per vector: the width the next layer takes.</param>
    public EmbeddingAttribute(int numEmbeddings, int embeddingDim)
    {
        NumEmbeddings = numEmbeddings;
        EmbeddingDim = embeddingDim;
    }

    /// <summary>The vocabulary size.</summary>
    public int NumEmbeddings { get; }

    /// <summary>Floats per vector.</summary>
    public int EmbeddingDim { get; }

    /// <summary>
    /// The id whose row is zero and never receives gradient (PyTorch's <c>padding_idx</c>), in [0, numEmbeddings);
    /// <see cref="NoPadding"/> (the default) for none. PyTorch's negative <c>padding_idx</c> counts from the end: write
    /// <c>numEmbeddings - 1</c> for its -1.
    /// </summary>
    public int PaddingIdx { get; set; } = NoPadding;

    /// <summary>Prefix of the table's parameter name (<c>embedding</c> gives <c>embedding.weight</c>).</summary>
    public string? Name { get; set; }
}

/// <summary>Keeps the last time step only: <c>[B, T, F]</c> becomes <c>[B, F]</c> (unbatched <c>[T, F]</c> becomes <c>[F]</c>).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
#if DEEPBOX_GENERATOR
internal
#else
public
#endif
sealed class LastStepAttribute : Attribute
{
}
