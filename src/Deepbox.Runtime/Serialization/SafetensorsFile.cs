using System.Collections.Generic;

namespace Deepbox;

/// <summary>
/// The content of a safetensors file read by <see cref="Safetensors.Parse"/> or <see cref="Safetensors.Load"/>: its
/// tensors, converted to float32, and its free-form metadata. Everything was validated before it was built. Pass
/// <see cref="Tensors"/> to <see cref="IModel.LoadStateDict"/> to load the weights into a model.
/// </summary>
public sealed class SafetensorsFile
{
    internal SafetensorsFile(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>
    /// The tensors by name, in the order the file's header lists them (for files written by <see cref="Safetensors"/>
    /// or by the reference library, the order of their data). Each is a new tensor that the caller owns.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> Tensors { get; }

    /// <summary>The header's <c>__metadata__</c> entries in file order; empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
}
