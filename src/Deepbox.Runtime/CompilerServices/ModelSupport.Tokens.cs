using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Deepbox.CompilerServices;

/// <content>Token ids: the checks of a model that starts with an <c>[Embedding]</c>, and its table's gradient.</content>
public static partial class ModelSupport
{
    /// <summary>Grows <paramref name="buffer"/> to at least <paramref name="length"/> ints (contents not kept).</summary>
    /// <param name="buffer">The buffer, replaced when too small.</param>
    /// <param name="length">The length needed.</param>
    public static void Ensure(ref int[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = new int[length];
        }
    }

    /// <summary>The ids of a 2-D array, row-major, as a span (no copy).</summary>
    /// <param name="tokens">The ids.</param>
    public static ReadOnlySpan<int> AsSpan(int[,] tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        return MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<byte, int>(ref MemoryMarshal.GetArrayDataReference(tokens)), tokens.Length);
    }

    /// <summary>
    /// Checks token ids <c>[B, T]</c> (<c>[T, B]</c> when not <paramref name="batchFirst"/>): at least one sequence of
    /// one step, every id in [0, <paramref name="vocabulary"/>).
    /// </summary>
    /// <param name="tokens">The ids.</param>
    /// <param name="batchFirst">The layout.</param>
    /// <param name="vocabulary">The table's size.</param>
    /// <returns>The batch and sequence sizes (never unbatched).</returns>
    public static (int Batch, int SeqLen, bool Unbatched) CheckTokens(int[,] tokens, bool batchFirst, int vocabulary)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        int batch = tokens.GetLength(batchFirst ? 0 : 1);
        int seqLen = tokens.GetLength(batchFirst ? 1 : 0);
        CheckSequenceSizes(batch, seqLen);
        CheckTokens(AsSpan(tokens), batch, seqLen, batchFirst, vocabulary);
        return (batch, seqLen, false);
    }

    /// <summary>Checks that a span holds <c>batch * seqLen</c> token ids.</summary>
    /// <param name="length">Its length.</param>
    /// <param name="batch">Sequences.</param>
    /// <param name="seqLen">Steps.</param>
    public static void CheckTokenLength(int length, int batch, int seqLen)
    {
        if (length != (long)batch * seqLen)
        {
            ThrowLength("tokens", $"{batch} * {seqLen} = {(long)batch * seqLen}", length);
        }
    }

    /// <summary>
    /// Checks every id of a batch, padding included (as <c>nn.Embedding</c> looks up the whole padded tensor): an id
    /// outside [0, <paramref name="vocabulary"/>) is an <see cref="ArgumentOutOfRangeException"/> naming the id, its
    /// position <c>[b, t]</c> and the vocabulary size.
    /// </summary>
    /// <param name="tokens">The ids, <c>[B, T]</c> or <c>[T, B]</c>.</param>
    /// <param name="batch">Sequences.</param>
    /// <param name="seqLen">Steps.</param>
    /// <param name="batchFirst">The layout.</param>
    /// <param name="vocabulary">The table's size.</param>
    public static void CheckTokens(ReadOnlySpan<int> tokens, int batch, int seqLen, bool batchFirst, int vocabulary)
    {
        for (int i = 0; i < tokens.Length; i++)
        {
            if ((uint)tokens[i] >= (uint)vocabulary)
            {
                int b = batchFirst ? i / seqLen : i % batch;
                int t = batchFirst ? i % seqLen : i / batch;
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens[i], $"Token id {tokens[i]} at [batch {b}, step {t}] is outside the vocabulary [0, {vocabulary})");
            }
        }
    }

    /// <summary>Checks one token id of a streaming step.</summary>
    /// <param name="token">The id.</param>
    /// <param name="vocabulary">The table's size.</param>
    public static void CheckToken(int token, int vocabulary)
    {
        if ((uint)token >= (uint)vocabulary)
        {
            throw new ArgumentOutOfRangeException(nameof(token), token, $"Token id {token} is outside the vocabulary [0, {vocabulary})");
        }
    }

    /// <summary>
    /// The gradient of an embedding table (<c>nn.Embedding</c>'s backward): each row's gradient added into its token's
    /// vector, rows in order, except the padding id's (<c>padding_idx</c> never learns).
    /// </summary>
    /// <param name="gradRows">The gradients of the looked-up rows.</param>
    /// <param name="stride">Floats between rows.</param>
    /// <param name="dim">Floats per vector.</param>
    /// <param name="tokens">Each row's token id.</param>
    /// <param name="rows">Rows.</param>
    /// <param name="paddingIdx">The padding id, or -1.</param>
    /// <param name="weightGrad">The table's gradient, <c>[vocabulary, dim]</c>, added into.</param>
    public static void EmbeddingBackward(ReadOnlySpan<float> gradRows, int stride, int dim, ReadOnlySpan<int> tokens, int rows, int paddingIdx, Span<float> weightGrad)
    {
        for (int r = 0; r < rows; r++)
        {
            int token = tokens[r];
            if (token != paddingIdx)
            {
                Span<float> row = weightGrad.Slice(token * dim, dim);
                TensorPrimitives.Add(row, gradRows.Slice(r * stride, dim), row);
            }
        }
    }
}
