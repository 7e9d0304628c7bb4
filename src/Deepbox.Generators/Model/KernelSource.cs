namespace Deepbox.Generators;

/// <summary>
/// One rendered kernel: its family (the generated file it goes to), its name (everything that specializes it), its
/// text in the 256-bit class (or the 512-bit one, for the Step512 family) and its text in the 128-bit ladder (empty
/// for Step512). Equatable, so the pipeline step that gathers every model's kernels is cached while no set of kernels
/// changes.
/// </summary>
internal sealed record KernelSource(string Family, string Name, string Text, string LadderText);
