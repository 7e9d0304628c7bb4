using System;
using System.Text;

namespace Deepbox.Generators;

/// <summary>A small indented text writer for emitting C#, with a disposable block helper that closes braces.</summary>
internal sealed class SourceWriter
{
    private readonly StringBuilder _sb = new();
    private int _indent;

    /// <summary>What the kernel text being written is for (the 256-bit kernels unless said otherwise).</summary>
    public KernelTarget Target { get; init; } = KernelTarget.Vector256;

    public void Line(string text = "")
    {
        if (text.Length > 0)
        {
            _sb.Append(' ', _indent * 4);
            _sb.Append(text);
        }

        _sb.Append('\n');
    }

    /// <summary>
    /// Writes a multi-line template (a raw string literal, so that the emitter's source reads as the code it writes):
    /// each line at the current indentation, the raw literal's own indentation already removed by the compiler.
    /// </summary>
    public void Lines(string template)
    {
        foreach (string line in template.Replace("\r\n", "\n").Split('\n'))
        {
            Line(line.TrimEnd());
        }
    }

    /// <summary>Writes <c>header</c>, an opening brace, and indents until the returned scope is disposed.</summary>
    public Scope Block(string header)
    {
        Line(header);
        Line("{");
        _indent++;
        return new Scope(this, "}");
    }

    /// <summary>A block whose closing brace carries a suffix (<c>};</c>).</summary>
    public Scope Block(string header, string close)
    {
        Line(header);
        Line("{");
        _indent++;
        return new Scope(this, close);
    }

    public void Comment(string text)
    {
        foreach (string line in text.Split('\n'))
        {
            Line(line.Length == 0 ? "//" : "// " + line);
        }
    }

    public override string ToString() => _sb.ToString();

    internal readonly struct Scope : IDisposable
    {
        private readonly SourceWriter _writer;
        private readonly string _close;

        public Scope(SourceWriter writer, string close)
        {
            _writer = writer;
            _close = close;
        }

        public void Dispose()
        {
            _writer._indent--;
            _writer.Line(_close);
        }
    }
}

/// <summary>The class a kernel's text is written for: one kernel is rendered once per target.</summary>
internal enum KernelTarget
{
    /// <summary>
    /// <c>Kernels</c>: 8-float <c>Vector256</c> blocks, 16-float tiles behind <c>Vector512</c> branches the JIT folds,
    /// and a first statement that hands the call to the 128-bit ladder where <c>Vector256</c> is not accelerated.
    /// </summary>
    Vector256,

    /// <summary>
    /// <c>Kernels128</c>, the ladder: the same kernels over <c>Vector128x2</c> (8 floats in two 128-bit halves), without
    /// the <c>Vector512</c> branches, in register tiles sized for 16 registers of 4 floats.
    /// </summary>
    Vector128,

    /// <summary><c>Kernels512</c>: the streaming kernels in 16-float <c>Vector512</c> blocks.</summary>
    Vector512,
}
