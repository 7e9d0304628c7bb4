namespace Deepbox.Generators;

/// <summary>
/// One rendered kernel: its family (the generated file it goes to), its name (everything that specializes it) and its
/// text. Equatable, so the pipeline step that gathers every model's kernels is cached while no set of kernels changes.
/// </summary>
internal sealed record KernelSource(string Family, string Name, string Text);
