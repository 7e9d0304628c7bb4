using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Text;

namespace Deepbox;

/// <summary>
/// A dense float32 tensor: contiguous, row-major, with a fixed shape. The data lives in one array that
/// <see cref="AsSpan"/> exposes without copying.
/// </summary>
public sealed class Tensor
{
    private readonly float[] _data;
    private readonly int[] _shape;
    private readonly ReadOnlyCollection<int> _shapeView;

    private Tensor(float[] data, int[] shape)
    {
        _data = data;
        _shape = shape;
        _shapeView = new ReadOnlyCollection<int>(shape);
    }

    /// <summary>The size of each dimension, outermost first.</summary>
    public IReadOnlyList<int> Shape => _shapeView;

    /// <summary>The number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>The number of elements (the product of <see cref="Shape"/>; 1 for a scalar of rank 0).</summary>
    public int Length => _data.Length;

    /// <summary>Creates a tensor of zeros.</summary>
    /// <param name="shape">The size of each dimension; each must be zero or more.</param>
    /// <exception cref="ArgumentException">A dimension is negative or the element count overflows.</exception>
    public static Tensor Zeros(params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        int[] copy = (int[])shape.Clone();
        return new Tensor(new float[ElementCount(copy)], copy);
    }

    /// <summary>Creates a tensor of the given shape holding a copy of <paramref name="data"/>.</summary>
    /// <param name="data">The values in row-major order.</param>
    /// <param name="shape">The size of each dimension.</param>
    /// <exception cref="ArgumentException">The length of <paramref name="data"/> is not the product of <paramref name="shape"/>.</exception>
    public static Tensor FromArray(float[] data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        int[] copy = (int[])shape.Clone();
        long count = ElementCount(copy);
        if (count != data.Length)
        {
            throw new ArgumentException(
                $"Shape {FormatShape(copy)} holds {count} values, got an array of {data.Length}.", nameof(data));
        }

        return new Tensor((float[])data.Clone(), copy);
    }

    /// <summary>Creates a rank-2 tensor holding a copy of <paramref name="values"/>.</summary>
    /// <param name="values">The values, <c>[rows, columns]</c>.</param>
    public static Tensor From(float[,] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        int[] shape = [values.GetLength(0), values.GetLength(1)];
        var data = new float[values.Length];
        int i = 0;
        foreach (float v in values)
        {
            data[i++] = v;
        }

        return new Tensor(data, shape);
    }

    /// <summary>Creates a rank-3 tensor holding a copy of <paramref name="values"/>.</summary>
    /// <param name="values">The values, for example <c>[batch, time, features]</c>.</param>
    public static Tensor From(float[,,] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        int[] shape = [values.GetLength(0), values.GetLength(1), values.GetLength(2)];
        var data = new float[values.Length];
        int i = 0;
        foreach (float v in values)
        {
            data[i++] = v;
        }

        return new Tensor(data, shape);
    }

    /// <summary>The values in row-major order, writable, without a copy.</summary>
    public Span<float> AsSpan() => _data;

    /// <summary>A copy of the values in row-major order.</summary>
    public float[] ToArray() => (float[])_data.Clone();

    /// <summary>The element of a rank-1 tensor.</summary>
    /// <param name="i0">The index.</param>
    public float this[int i0]
    {
        get => _data[Offset(i0)];
        set => _data[Offset(i0)] = value;
    }

    /// <summary>The element of a rank-2 tensor.</summary>
    /// <param name="i0">The index in dimension 0.</param>
    /// <param name="i1">The index in dimension 1.</param>
    public float this[int i0, int i1]
    {
        get => _data[Offset(i0, i1)];
        set => _data[Offset(i0, i1)] = value;
    }

    /// <summary>The element of a rank-3 tensor.</summary>
    /// <param name="i0">The index in dimension 0.</param>
    /// <param name="i1">The index in dimension 1.</param>
    /// <param name="i2">The index in dimension 2.</param>
    public float this[int i0, int i1, int i2]
    {
        get => _data[Offset(i0, i1, i2)];
        set => _data[Offset(i0, i1, i2)] = value;
    }

    /// <summary>The element at <paramref name="indices"/>, one index per dimension.</summary>
    /// <param name="indices">One index per dimension.</param>
    public float this[params int[] indices]
    {
        get => _data[Offset(indices)];
        set => _data[Offset(indices)] = value;
    }

    /// <summary>Whether this tensor has exactly the given shape.</summary>
    /// <param name="shape">The expected size of each dimension.</param>
    public bool HasShape(ReadOnlySpan<int> shape) => shape.SequenceEqual(_shape);

    /// <summary>
    /// A readable rendering: the shape, then the values nested by dimension, with at most six values per
    /// dimension (the first and last three around <c>...</c>) and four decimals, in the invariant culture.
    /// </summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append("Tensor ").Append(FormatShape(_shape)).Append('\n');
        if (_shape.Length == 0)
        {
            sb.Append(FormatValue(_data[0]));
            return sb.ToString();
        }

        AppendDimension(sb, 0, 0, 0);
        return sb.ToString();
    }

    /// <summary>Formats a shape as <c>[2, 3, 4]</c>, the form error messages use.</summary>
    /// <param name="shape">The sizes.</param>
    public static string FormatShape(IReadOnlyList<int> shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var sb = new StringBuilder("[");
        for (int i = 0; i < shape.Count; i++)
        {
            if (i > 0)
            {
                sb.Append(", ");
            }

            sb.Append(shape[i].ToString(CultureInfo.InvariantCulture));
        }

        return sb.Append(']').ToString();
    }

    private void AppendDimension(StringBuilder sb, int dim, int offset, int indent)
    {
        int n = _shape[dim];
        int stride = 1;
        for (int d = dim + 1; d < _shape.Length; d++)
        {
            stride *= _shape[d];
        }

        sb.Append('[');
        bool elide = n > 6;
        for (int i = 0; i < n; i++)
        {
            if (elide && i == 3)
            {
                sb.Append(dim == _shape.Length - 1 ? "..., " : "...,\n" + new string(' ', indent + 1));
                i = n - 3;
            }

            if (dim == _shape.Length - 1)
            {
                sb.Append(FormatValue(_data[offset + i]));
                if (i < n - 1)
                {
                    sb.Append(", ");
                }
            }
            else
            {
                AppendDimension(sb, dim + 1, offset + (i * stride), indent + 1);
                if (i < n - 1)
                {
                    sb.Append(",\n").Append(' ', indent + 1);
                }
            }
        }

        sb.Append(']');
    }

    private static string FormatValue(float v) => v.ToString("0.0000", CultureInfo.InvariantCulture);

    private static int ElementCount(int[] shape)
    {
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Shape {FormatShape(shape)} has a negative dimension.", nameof(shape));
            }

            count *= d;
            if (count > Array.MaxLength)
            {
                throw new ArgumentException($"Shape {FormatShape(shape)} has more elements than an array can hold.", nameof(shape));
            }
        }

        return (int)count;
    }

    private int Offset(int i0)
    {
        CheckRank(1);
        return CheckIndex(0, i0);
    }

    private int Offset(int i0, int i1)
    {
        CheckRank(2);
        return (CheckIndex(0, i0) * _shape[1]) + CheckIndex(1, i1);
    }

    private int Offset(int i0, int i1, int i2)
    {
        CheckRank(3);
        return (((CheckIndex(0, i0) * _shape[1]) + CheckIndex(1, i1)) * _shape[2]) + CheckIndex(2, i2);
    }

    private int Offset(int[] indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        CheckRank(indices.Length);
        int offset = 0;
        for (int d = 0; d < indices.Length; d++)
        {
            offset = (offset * _shape[d]) + CheckIndex(d, indices[d]);
        }

        return offset;
    }

    private void CheckRank(int count)
    {
        if (count != _shape.Length)
        {
            throw new ArgumentException($"A tensor of shape {FormatShape(_shape)} takes {_shape.Length} indices, got {count}.");
        }
    }

    private int CheckIndex(int dim, int index)
    {
        if ((uint)index >= (uint)_shape[dim])
        {
            throw new IndexOutOfRangeException(
                $"Index {index} is out of range for dimension {dim} of size {_shape[dim]} (shape {FormatShape(_shape)}).");
        }

        return index;
    }
}
