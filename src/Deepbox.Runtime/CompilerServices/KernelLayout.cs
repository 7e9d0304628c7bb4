// This file is compiled into the generator too (linked): the layout constants the generated kernels and the runtime
// must agree on live here once.
#if DEEPBOX_GENERATOR
namespace Deepbox.Generators.Linked;
#else
namespace Deepbox.CompilerServices;
#endif

/// <summary>The layout the generated kernels and the runtime share: vector widths and the row tile.</summary>
internal static class KernelLayout
{
    /// <summary>Floats per vector block of the kernels (<c>Vector256&lt;float&gt;</c>): hidden sizes pad to a multiple of it.</summary>
    public const int VectorWidth = 8;

    /// <summary>Floats per block of the 512-bit streaming kernels (<c>Vector512&lt;float&gt;</c>).</summary>
    public const int WideVectorWidth = 16;

    /// <summary>
    /// Rows (sequences) a kernel tile computes together, sharing each weight load. <c>Workers</c> splits a batch at
    /// multiples of it (a power of two), so every thread's rows are whole tiles, and gives each thread at least one tile.
    /// </summary>
    public const int RowTile = 4;
}
