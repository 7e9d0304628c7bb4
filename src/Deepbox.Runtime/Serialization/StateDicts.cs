using System;
using System.Collections.Generic;
using System.Text;

namespace Deepbox;

/// <summary>What <see cref="IModel.LoadStateDict"/> did not match: the model's names the dictionary lacked, and the dictionary's names the model does not have.</summary>
/// <param name="MissingKeys">Parameter names of the model that the dictionary did not have (left unchanged).</param>
/// <param name="UnexpectedKeys">Names in the dictionary that are not parameters of the model (ignored).</param>
public sealed record LoadStateDictResult(IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys)
{
    /// <summary>
    /// "All keys matched" when both lists are empty (PyTorch's <c>&lt;All keys matched successfully&gt;</c>), else the
    /// lists: <c>LoadStateDictResult { MissingKeys = [fc.bias], UnexpectedKeys = [head.weight] }</c>.
    /// </summary>
    public override string ToString() =>
        MissingKeys.Count == 0 && UnexpectedKeys.Count == 0
            ? "LoadStateDictResult { All keys matched }"
            : $"LoadStateDictResult {{ MissingKeys = [{string.Join(", ", MissingKeys)}], UnexpectedKeys = [{string.Join(", ", UnexpectedKeys)}] }}";
}

/// <summary>State-dictionary operations shared by every generated model.</summary>
public static class StateDicts
{
    /// <summary>The parameters' live value tensors by name, in parameter order.</summary>
    /// <param name="parameters">The model's parameters.</param>
    public static IReadOnlyDictionary<string, Tensor> Create(IReadOnlyList<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var dict = new Dictionary<string, Tensor>(parameters.Count, StringComparer.Ordinal);
        foreach (Parameter p in parameters)
        {
            dict.Add(p.Name, p.Value);
        }

        return dict;
    }

    /// <summary>
    /// A deep copy: every tensor copied, so later training does not change it (a model's <c>StateDict()</c> holds the
    /// live parameter tensors). PyTorch's <c>copy.deepcopy(model.state_dict())</c>, to keep the best weights and load
    /// them back with <c>LoadStateDict</c>.
    /// </summary>
    /// <param name="stateDict">Tensors by name.</param>
    /// <returns>A new dictionary, in the same order, of new tensors with the same shapes and values.</returns>
    public static Dictionary<string, Tensor> Clone(IReadOnlyDictionary<string, Tensor> stateDict)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        var copy = new Dictionary<string, Tensor>(stateDict.Count, StringComparer.Ordinal);
        foreach (KeyValuePair<string, Tensor> entry in stateDict)
        {
            ArgumentNullException.ThrowIfNull(entry.Value, $"stateDict[\"{entry.Key}\"]");
            copy.Add(entry.Key, Tensor.FromArray(entry.Value.AsSpan().ToArray(), [.. entry.Value.Shape]));
        }

        return copy;
    }

    /// <summary>
    /// Copies matching tensors into <paramref name="parameters"/>. Every name and shape is checked first and one
    /// exception reports every problem, so a failed load changes nothing.
    /// </summary>
    /// <param name="parameters">The model's parameters.</param>
    /// <param name="stateDict">Tensors by PyTorch name.</param>
    /// <param name="strict">When true, missing and unexpected names are errors as well as wrong shapes.</param>
    /// <exception cref="ArgumentException">A shape differs, or (strict) a name is missing or unexpected.</exception>
    public static LoadStateDictResult Load(IReadOnlyList<Parameter> parameters, IReadOnlyDictionary<string, Tensor> stateDict, bool strict)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(stateDict);
        var missing = new List<string>();
        var wrongShape = new List<string>();
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (Parameter p in parameters)
        {
            known.Add(p.Name);
            if (!stateDict.TryGetValue(p.Name, out Tensor? t))
            {
                missing.Add(p.Name);
            }
            else if (t is null || !SameShape(t.Shape, p.Shape))
            {
                wrongShape.Add($"{p.Name}: expected {Tensor.FormatShape(p.Shape)}, got {(t is null ? "null" : Tensor.FormatShape(t.Shape))}");
            }
        }

        var unexpected = new List<string>();
        foreach (string key in stateDict.Keys)
        {
            if (!known.Contains(key))
            {
                unexpected.Add(key);
            }
        }

        unexpected.Sort(StringComparer.Ordinal);
        if (wrongShape.Count > 0 || (strict && (missing.Count > 0 || unexpected.Count > 0)))
        {
            var sb = new StringBuilder("Error loading the state dict; nothing was changed.");
            if (wrongShape.Count > 0)
            {
                sb.Append(" Wrong shapes: ").Append(string.Join("; ", wrongShape)).Append('.');
            }

            if (strict && missing.Count > 0)
            {
                sb.Append(" Missing keys: ").Append(string.Join(", ", missing)).Append('.');
            }

            if (strict && unexpected.Count > 0)
            {
                sb.Append(" Unexpected keys: ").Append(string.Join(", ", unexpected)).Append('.');
            }

            throw new ArgumentException(sb.ToString(), nameof(stateDict));
        }

        foreach (Parameter p in parameters)
        {
            if (stateDict.TryGetValue(p.Name, out Tensor? t))
            {
                t!.AsSpan().CopyTo(p.Value.AsSpan());
            }
        }

        return new LoadStateDictResult(missing, unexpected);
    }

    private static bool SameShape(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        for (int i = 0; i < a.Count; i++)
        {
            if (a[i] != b[i])
            {
                return false;
            }
        }

        return true;
    }
}
