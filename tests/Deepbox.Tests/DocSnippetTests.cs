using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// Every C# block of the README and the packages' readmes compiles as a user would paste it into a new console project
/// (<c>dotnet new console</c>: implicit usings on, nullable on) with the Deepbox package: the generator runs over it, and
/// no error or warning may come out. A block marked <c>&lt;!-- snippet: run --&gt;</c> on the line before it also runs,
/// and must finish without an exception.
/// </summary>
public class DocSnippetTests
{
    /// <summary>The global usings of a new console project (Microsoft.NET.Sdk's ImplicitUsings).</summary>
    private const string ImplicitUsings = """
        global using global::System;
        global using global::System.Collections.Generic;
        global using global::System.IO;
        global using global::System.Linq;
        global using global::System.Net.Http;
        global using global::System.Threading;
        global using global::System.Threading.Tasks;
        """;

    public static TheoryData<string, int> Snippets()
    {
        var data = new TheoryData<string, int>();
        foreach (string doc in Documents)
        {
            for (int i = 0; i < Extract(doc).Count; i++)
            {
                data.Add(doc, i);
            }
        }

        return data;
    }

    private static string[] Documents => ["README.md", "src/Deepbox.Runtime/PACKAGE.md", "src/Deepbox.Onnx/README.md"];

    [Fact]
    public void TheDocumentsHaveSnippets()
    {
        Assert.True(Extract("README.md").Count >= 3, "the README's C# blocks were not found");
        Assert.NotEmpty(Extract("src/Deepbox.Runtime/PACKAGE.md"));
    }

    [Theory]
    [MemberData(nameof(Snippets))]
    public void SnippetCompiles(string document, int index)
    {
        Snippet snippet = Extract(document)[index];
        SyntaxTree tree = CSharpSyntaxTree.ParseText(snippet.Code, GeneratorHarness.ParseOptions);
        bool program = tree.GetRoot().DescendantNodes().OfType<GlobalStatementSyntax>().Any();
        GeneratorHarness.Result result = GeneratorHarness.Run(program ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary, snippet.Code, ImplicitUsings);
        Assert.True(
            result.AllDiagnostics.Count == 0,
            $"{document}, the C# block at line {snippet.Line}:\n{string.Join("\n", result.AllDiagnostics)}\n--- the block ---\n{snippet.Code}");
        if (snippet.Run)
        {
            Assembly assembly = result.Load();
            MethodInfo entry = assembly.EntryPoint ?? throw new InvalidOperationException($"The block at line {snippet.Line} is marked to run but has no entry point.");
            TextWriter console = Console.Out;
            var output = new StringWriter();
            Console.SetOut(output);
            try
            {
                entry.Invoke(null, entry.GetParameters().Length == 0 ? null : [Array.Empty<string>()]);
            }
            finally
            {
                Console.SetOut(console);
            }

            Assert.NotEqual(string.Empty, output.ToString());
        }
    }

    private sealed record Snippet(string Code, int Line, bool Run);

    private static List<Snippet> Extract(string document)
    {
        string[] lines = File.ReadAllLines(Path.Combine(RepositoryRoot(), document));
        var snippets = new List<Snippet>();
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Trim() != "```csharp")
            {
                continue;
            }

            bool run = i > 0 && lines[i - 1].Trim() == "<!-- snippet: run -->";
            int start = i + 1;
            int end = Array.FindIndex(lines, start, l => l.Trim() == "```");
            Assert.True(end > 0, $"{document}: the C# block at line {i + 1} is not closed");
            snippets.Add(new Snippet(string.Join("\n", lines[start..end]), start + 1, run));
            i = end;
        }

        return snippets;
    }

    /// <summary>The repository, found by walking up from the test binaries (CI builds map source paths away).</summary>
    private static string RepositoryRoot()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Deepbox.sln")))
            {
                return d.FullName;
            }
        }

        throw new InvalidOperationException($"Cannot find Deepbox.sln above {AppContext.BaseDirectory}.");
    }
}
