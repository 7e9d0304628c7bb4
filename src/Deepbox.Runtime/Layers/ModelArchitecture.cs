using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;

namespace Deepbox;

/// <summary>The kind of a declared layer.</summary>
public enum LayerKind
{
    /// <summary>An Elman RNN (<c>[Rnn]</c>).</summary>
    Rnn,

    /// <summary>An LSTM (<c>[Lstm]</c>).</summary>
    Lstm,

    /// <summary>A GRU (<c>[Gru]</c>).</summary>
    Gru,

    /// <summary>A fully connected layer (<c>[Linear]</c>).</summary>
    Linear,

    /// <summary>The last time step of the sequence (<c>[LastStep]</c>).</summary>
    LastStep,

    /// <summary>A table of token vectors (<c>[Embedding]</c>): input size is the vocabulary, hidden size the vector width.</summary>
    Embedding,
}

/// <summary>
/// One layer declaration of a model, as declared (defaults filled in): what a tool that writes the model in another
/// format (ONNX export) needs to know, without reflection.
/// </summary>
/// <param name="Kind">The layer's kind.</param>
/// <param name="Prefix">The PyTorch name prefix of its parameters, with its dot (<c>lstm.</c>, <c>2.</c>), or empty.</param>
/// <param name="InputSize">Features in (a recurrent layer's input size, a linear layer's in features; 0 for LastStep).</param>
/// <param name="HiddenSize">A recurrent layer's hidden size, a linear layer's out features (0 for LastStep).</param>
/// <param name="NumLayers">Stacked layers of a recurrent declaration (1 otherwise).</param>
/// <param name="Bias">Whether the layer has biases.</param>
/// <param name="Bidirectional">Whether a recurrent layer runs in both directions.</param>
/// <param name="Nonlinearity">An RNN's nonlinearity.</param>
/// <param name="Activation">A linear layer's activation.</param>
/// <param name="Dropout">Dropout between stacked layers, in training only.</param>
public sealed record LayerDeclaration(
    LayerKind Kind,
    string Prefix,
    int InputSize,
    int HiddenSize,
    int NumLayers,
    bool Bias,
    bool Bidirectional,
    Nonlinearity Nonlinearity,
    Activation Activation,
    float Dropout)
{
    /// <summary>Whether this is an RNN, LSTM or GRU declaration.</summary>
    public bool IsRecurrent => Kind is LayerKind.Rnn or LayerKind.Lstm or LayerKind.Gru;

    /// <summary>1, or 2 for a bidirectional recurrent layer.</summary>
    public int Directions => Bidirectional ? 2 : 1;
}

/// <summary>A model's architecture: its class, layout and layer declarations in order (a generated model's <c>Architecture</c>).</summary>
public sealed class ModelArchitecture
{
    /// <summary>Describes a model.</summary>
    /// <param name="className">The model class's name.</param>
    /// <param name="batchFirst">Whether inputs and outputs are <c>[B, T, F]</c>.</param>
    /// <param name="inputSize">Features per time step in.</param>
    /// <param name="outputSize">Features per time step (or per sequence, after LastStep) out.</param>
    /// <param name="layers">The declarations, top to bottom.</param>
    public ModelArchitecture(string className, bool batchFirst, int inputSize, int outputSize, IEnumerable<LayerDeclaration> layers)
    {
        ArgumentException.ThrowIfNullOrEmpty(className);
        ArgumentNullException.ThrowIfNull(layers);
        ClassName = className;
        BatchFirst = batchFirst;
        InputSize = inputSize;
        OutputSize = outputSize;
        Layers = new ReadOnlyCollection<LayerDeclaration>([.. layers]);
    }

    /// <summary>The model class's name.</summary>
    public string ClassName { get; }

    /// <summary>Whether inputs and outputs are <c>[B, T, F]</c> (true) or <c>[T, B, F]</c>.</summary>
    public bool BatchFirst { get; }

    /// <summary>Features per time step in.</summary>
    public int InputSize { get; }

    /// <summary>Features per time step (or per sequence, after LastStep) out.</summary>
    public int OutputSize { get; }

    /// <summary>The layer declarations, top to bottom.</summary>
    public IReadOnlyList<LayerDeclaration> Layers { get; }
}
