using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Deepbox.Generators;

/// <summary>Reads a class's layer attributes into a <see cref="ModelSpec"/>, or into diagnostics when it cannot.</summary>
internal static class ModelParser
{
    public const string Namespace = "Deepbox";

    /// <summary>The largest size a declaration may use: weights of 65536 x 65536 floats already take 16 GiB.</summary>
    public const int MaxSize = 65536;

    /// <summary>The most stacked layers one attribute may declare.</summary>
    public const int MaxLayers = 64;

    /// <summary>The members every model gets; a user declaration of one would clash.</summary>
    private static readonly HashSet<string> GeneratedMembers =
    [
        "InputSize", "OutputSize", "BatchFirst", "ParameterCount", "Forward", "ForwardWithState", "Parameters",
        "NamedParameters", "ZeroGrad", "Train", "Eval", "IsTraining", "StateDict", "LoadStateDict", "ToString",
        "Backward", "BackwardWithState", "Save", "Load", "CreateState", "Step", "StateLength", "Threads", "Architecture",
        "Weights", "Workspace", "_exec", "s_stateLayout", "NoStreaming", "NumEmbeddings", "EmbeddingDim", "FloatInput", // the nested classes and private members of the model's file
    ];

    private static readonly Dictionary<string, LayerKind> Kinds = new()
    {
        ["RnnAttribute"] = LayerKind.Rnn,
        ["LstmAttribute"] = LayerKind.Lstm,
        ["GruAttribute"] = LayerKind.Gru,
        ["LinearAttribute"] = LayerKind.Linear,
        ["LastStepAttribute"] = LayerKind.LastStep,
        ["EmbeddingAttribute"] = LayerKind.Embedding,
    };

    /// <summary>
    /// Parses the class of <paramref name="context"/> if <paramref name="attributeName"/> is its first Deepbox
    /// attribute (each class is handled by the pipeline of its first attribute only, so it is emitted once);
    /// returns null otherwise.
    /// </summary>
    public static ParseResult? Parse(GeneratorAttributeSyntaxContext context, string attributeName, CancellationToken ct)
    {
        if (context.TargetSymbol is not INamedTypeSymbol type)
        {
            return null;
        }

        var attributes = new List<(AttributeData Data, LayerKind Kind)>();
        foreach (AttributeData a in type.GetAttributes())
        {
            INamedTypeSymbol? ac = a.AttributeClass;
            if (ac is not null && ac.ContainingNamespace is { Name: Namespace, ContainingNamespace.IsGlobalNamespace: true }
                && Kinds.TryGetValue(ac.Name, out LayerKind kind))
            {
                attributes.Add((a, kind));
            }
        }

        // Each class is handled once: by the pipeline of its first layer attribute, on the declaration that holds it.
        if (attributes.Count == 0 || attributes[0].Data.AttributeClass!.Name != attributeName
            || attributes[0].Data.ApplicationSyntaxReference?.GetSyntax(ct).Parent?.Parent != context.TargetNode)
        {
            return null;
        }

        ct.ThrowIfCancellationRequested();
        var diagnostics = new List<DiagnosticInfo>();
        string className = type.Name;
        LocationInfo? classLocation = ToInfo(context.TargetNode is ClassDeclarationSyntax cds ? cds.Identifier.GetLocation() : type.Locations.FirstOrDefault());

        if (!IsPartial(type))
        {
            diagnostics.Add(Diag(Diagnostics.NotPartial, classLocation, className));
        }

        if (type.IsStatic)
        {
            diagnostics.Add(Diag(Diagnostics.StaticClass, classLocation, className));
        }

        if (type.TypeParameters.Length > 0)
        {
            diagnostics.Add(Diag(Diagnostics.Generic, classLocation, className));
        }

        var containing = new List<string>();
        for (INamedTypeSymbol? outer = type.ContainingType; outer is not null; outer = outer.ContainingType)
        {
            if (!IsPartial(outer))
            {
                diagnostics.Add(Diag(Diagnostics.ContainingTypeNotPartial, classLocation, className, outer.Name));
            }

            if (outer.TypeParameters.Length > 0)
            {
                diagnostics.Add(Diag(Diagnostics.Generic, classLocation, outer.Name));
            }

            containing.Insert(0, $"partial {Keyword(outer)} {outer.Name}");
        }

        if (attributes.Select(a => a.Data.ApplicationSyntaxReference?.GetSyntax(ct).Parent?.Parent).Distinct().Count() > 1)
        {
            diagnostics.Add(Diag(Diagnostics.SplitDeclaration, classLocation, className));
        }

        foreach (ISymbol member in type.GetMembers())
        {
            if (member.IsImplicitlyDeclared || member.DeclaringSyntaxReferences.Length == 0)
            {
                continue;
            }

            bool clash = member is IMethodSymbol { MethodKind: MethodKind.Constructor } ctor
                ? ctor.Parameters.Length == 0 || (ctor.Parameters.Length == 1 && ctor.Parameters[0].Type.SpecialType == SpecialType.System_Int32)
                : GeneratedMembers.Contains(member.Name);
            if (clash)
            {
                string what = member is IMethodSymbol { MethodKind: MethodKind.Constructor } c
                    ? $"{className}({(c.Parameters.Length == 0 ? string.Empty : "int")})"
                    : member.Name;
                diagnostics.Add(Diag(Diagnostics.MemberClash, ToInfo(member.Locations.FirstOrDefault()) ?? classLocation, className, what));
            }
        }

        var layers = new List<LayerSpec>();
        var names = new HashSet<string>();
        bool? batchFirst = null;
        bool sawLastStep = false;
        int width = -1;
        foreach ((AttributeData data, LayerKind kind) in attributes)
        {
            ct.ThrowIfCancellationRequested();
            var syntax = data.ApplicationSyntaxReference?.GetSyntax(ct) as AttributeSyntax;
            LocationInfo? where = ToInfo(syntax?.GetLocation()) ?? classLocation;
            string label = kind.ToString();
            if (data.ConstructorArguments.Any(a => a.Kind == TypedConstantKind.Error)
                || data.NamedArguments.Any(a => a.Value.Kind == TypedConstantKind.Error)
                || (kind != LayerKind.LastStep && data.ConstructorArguments.Length != 2))
            {
                diagnostics.Add(Diag(Diagnostics.NotConstant, where, label));
                continue;
            }

            if (kind == LayerKind.LastStep)
            {
                if (sawLastStep)
                {
                    diagnostics.Add(Diag(Diagnostics.LastStepTwice, where, className));
                }

                sawLastStep = true;
                layers.Add(new LayerSpec(kind, width, width, 1, false, true, false, false, 0f, Activation.None, null));
                continue;
            }

            int a0 = (int)data.ConstructorArguments[0].Value!;
            int a1 = (int)data.ConstructorArguments[1].Value!;
            if (kind == LayerKind.Embedding)
            {
                layers.Add(ParseEmbedding(diagnostics, data, syntax, where, className, layers.Count, a0, a1, names));
                width = a1 >= 1 ? a1 : -1;
                continue;
            }

            // The defaults of the attribute classes themselves (compiled in from the runtime: one source of truth).
            RecurrentLayerAttribute? recurrentDefaults = kind switch
            {
                LayerKind.Rnn => new RnnAttribute(0, 0),
                LayerKind.Lstm => new LstmAttribute(0, 0),
                LayerKind.Gru => new GruAttribute(0, 0),
                _ => null,
            };
            var linearDefaults = new LinearAttribute(0, 0);
            int numLayers = recurrentDefaults?.NumLayers ?? 1;
            bool bias = recurrentDefaults?.Bias ?? linearDefaults.Bias;
            bool bf = recurrentDefaults?.BatchFirst ?? true;
            bool bidirectional = recurrentDefaults?.Bidirectional ?? false;
            bool relu = recurrentDefaults is RnnAttribute { Nonlinearity: Nonlinearity.Relu };
            float dropout = recurrentDefaults?.Dropout ?? 0f;
            Activation activation = linearDefaults.Activation;
            string? name = null;
            foreach (KeyValuePair<string, TypedConstant> named in data.NamedArguments)
            {
                object? v = named.Value.Value;
                switch (named.Key)
                {
                    case "NumLayers": numLayers = (int)v!; break;
                    case "Bias": bias = (bool)v!; break;
                    case "BatchFirst": bf = (bool)v!; break;
                    case "Bidirectional": bidirectional = (bool)v!; break;
                    case "Dropout": dropout = (float)v!; break;
                    case "Nonlinearity": relu = (Nonlinearity)(int)v! == Nonlinearity.Relu; break;
                    case "Activation": activation = (Activation)(int)v!; break;
                    case "Name": name = (string?)v; break;
                }
            }

            bool recurrent = kind != LayerKind.Linear;
            string inName = recurrent ? "inputSize" : "inFeatures";
            string outName = recurrent ? "hiddenSize" : "outFeatures";
            bool ok = CheckSize(diagnostics, At(syntax, inName, 0) ?? where, label, inName, a0, MaxSize, SizeReason)
                & CheckSize(diagnostics, At(syntax, outName, 1) ?? where, label, outName, a1, MaxSize, SizeReason)
                & (!recurrent || CheckSize(diagnostics, At(syntax, "NumLayers") ?? where, label, "NumLayers", numLayers, MaxLayers, LayersReason));

            if (recurrent)
            {
                if (sawLastStep)
                {
                    diagnostics.Add(Diag(Diagnostics.RecurrentAfterLastStep, where, label));
                }

                if (!(dropout >= 0f && dropout < 1f))
                {
                    diagnostics.Add(Diag(Diagnostics.DropoutOutOfRange, At(syntax, "Dropout") ?? where, label, Format(dropout)));
                }
                else if (dropout > 0f && numLayers == 1)
                {
                    diagnostics.Add(Diag(Diagnostics.DropoutSingleLayer, At(syntax, "Dropout") ?? where, label, Format(dropout)));
                }

                if (batchFirst is null)
                {
                    batchFirst = bf;
                }
                else if (batchFirst != bf)
                {
                    diagnostics.Add(Diag(Diagnostics.BatchFirstDiffers, At(syntax, "BatchFirst") ?? where, label, Bool(bf), Bool(batchFirst.Value)));
                }
            }

            if (name is not null)
            {
                if (!IsValidName(name))
                {
                    diagnostics.Add(Diag(Diagnostics.BadName, At(syntax, "Name") ?? where, label, name));
                }
                else if (!names.Add(name))
                {
                    diagnostics.Add(Diag(Diagnostics.DuplicateName, At(syntax, "Name") ?? where, label, name));
                }
            }

            if (ok && width > 0 && a0 != width)
            {
                LayerSpec? before = layers.LastOrDefault(x => x.Kind != LayerKind.LastStep);
                string why = before is { IsRecurrent: true, Bidirectional: true }
                    ? $" (2 x hiddenSize {before.HiddenSize.ToString(CultureInfo.InvariantCulture)}: it is bidirectional)"
                    : string.Empty;
                diagnostics.Add(Diag(Diagnostics.WidthMismatch, At(syntax, inName, 0) ?? where, label, inName, a0.ToString(CultureInfo.InvariantCulture), width.ToString(CultureInfo.InvariantCulture), why));
            }

            var layer = new LayerSpec(kind, a0, a1, numLayers, bias, bf, bidirectional, relu, dropout, activation, name);
            layers.Add(layer);
            width = ok ? layer.OutputWidth : -1;
        }

        if (!attributes.Any(a => a.Kind != LayerKind.LastStep))
        {
            diagnostics.Add(Diag(Diagnostics.NoLayer, classLocation, className));
        }

        // LastStep keeps the width of what comes in: fill it in now that every width is known.
        for (int i = 0; i < layers.Count; i++)
        {
            if (layers[i].Kind == LayerKind.LastStep)
            {
                int w = i == 0
                    ? (layers.Count > 1 ? layers[1].InputSize : -1)
                    : (layers[i - 1].Kind == LayerKind.LastStep ? layers[i - 1].InputSize : layers[i - 1].OutputWidth);
                layers[i] = layers[i] with { InputSize = w, HiddenSize = w };
            }
        }

        bool hasErrors = diagnostics.Any(d => Diagnostics.Get(d.Id).DefaultSeverity == DiagnosticSeverity.Error);
        string? ns = type.ContainingNamespace.IsGlobalNamespace ? null : type.ContainingNamespace.ToDisplayString();
        string hint = (ns is null ? string.Empty : ns + ".") + string.Concat(containing.Select(c => c.Split(' ').Last() + ".")) + className + ".g.cs";
        ModelSpec? spec = hasErrors ? null : new ModelSpec(
            ns,
            className,
            new EquatableArray<string>(containing),
            new EquatableArray<LayerSpec>(layers),
            batchFirst ?? true,
            hint);
        return new ParseResult(spec, new EquatableArray<DiagnosticInfo>(diagnostics));
    }

    /// <summary>An <c>[Embedding]</c>: sizes, <c>PaddingIdx</c>, <c>Name</c>, and its place (first only).</summary>
    private static LayerSpec ParseEmbedding(List<DiagnosticInfo> diagnostics, AttributeData data, AttributeSyntax? syntax, LocationInfo? where, string className, int index, int vocabulary, int dim, HashSet<string> names)
    {
        const string Label = "Embedding";
        var defaults = new EmbeddingAttribute(0, 0);
        int paddingIdx = defaults.PaddingIdx;
        string? name = defaults.Name;
        foreach (KeyValuePair<string, TypedConstant> named in data.NamedArguments)
        {
            switch (named.Key)
            {
                case "PaddingIdx": paddingIdx = (int)named.Value.Value!; break;
                case "Name": name = (string?)named.Value.Value; break;
            }
        }

        if (index != 0)
        {
            diagnostics.Add(Diag(Diagnostics.EmbeddingNotFirst, where, className, index.ToString(CultureInfo.InvariantCulture)));
        }

        bool ok = CheckSize(diagnostics, At(syntax, "numEmbeddings", 0) ?? where, Label, "numEmbeddings", vocabulary, MaxVocabulary, VocabularyReason)
            & CheckSize(diagnostics, At(syntax, "embeddingDim", 1) ?? where, Label, "embeddingDim", dim, MaxSize, SizeReason);
        if (ok && (long)vocabulary * dim > int.MaxValue)
        {
            ok = CheckSize(diagnostics, At(syntax, "embeddingDim", 1) ?? where, Label, "embeddingDim", dim, int.MaxValue / vocabulary, "the table is one array of at most 2^31 - 1 floats");
        }
        if (ok && (paddingIdx < EmbeddingAttribute.NoPadding || paddingIdx >= vocabulary))
        {
            diagnostics.Add(Diag(Diagnostics.PaddingIdxOutOfRange, At(syntax, "PaddingIdx") ?? where, paddingIdx.ToString(CultureInfo.InvariantCulture), vocabulary.ToString(CultureInfo.InvariantCulture)));
        }

        if (name is not null)
        {
            if (!IsValidName(name))
            {
                diagnostics.Add(Diag(Diagnostics.BadName, At(syntax, "Name") ?? where, Label, name));
            }
            else if (!names.Add(name))
            {
                diagnostics.Add(Diag(Diagnostics.DuplicateName, At(syntax, "Name") ?? where, Label, name));
            }
        }

        return new LayerSpec(LayerKind.Embedding, vocabulary, dim, 1, false, true, false, false, 0f, Activation.None, name) { PaddingIdx = paddingIdx };
    }

    /// <summary>The largest vocabulary an <c>[Embedding]</c> may declare.</summary>
    public const int MaxVocabulary = 1 << 24;

    private const string VocabularyReason = "ids above 2^24 are not exact as floats, and no word list is that long";

    private const string SizeReason = "one weight matrix of 65536 x 65536 floats already takes 16 GiB";

    private const string LayersReason = "deeper stacks do not train and only grow the generated code";

    private static bool CheckSize(List<DiagnosticInfo> diagnostics, LocationInfo? where, string label, string what, int value, int max, string reason)
    {
        if (value >= 1 && value <= max)
        {
            return true;
        }

        diagnostics.Add(Diag(Diagnostics.SizeOutOfRange, where, label, what, value.ToString(CultureInfo.InvariantCulture), max.ToString(CultureInfo.InvariantCulture), reason));
        return false;
    }

    /// <summary>
    /// The location of an attribute argument: the named property <paramref name="name"/> (<c>Dropout = 2f</c>), the
    /// constructor argument of that parameter name (<c>hiddenSize: 0</c>), or the <paramref name="position"/>-th
    /// positional one. Null when the argument is not written (its default applies).
    /// </summary>
    private static LocationInfo? At(AttributeSyntax? syntax, string name, int position = -1)
    {
        if (syntax?.ArgumentList is null)
        {
            return null;
        }

        int positional = 0;
        foreach (AttributeArgumentSyntax argument in syntax.ArgumentList.Arguments)
        {
            if (argument.NameEquals is { } equals)
            {
                if (equals.Name.Identifier.ValueText == name)
                {
                    return ToInfo(argument.GetLocation());
                }
            }
            else if (argument.NameColon is { } colon)
            {
                if (colon.Name.Identifier.ValueText == name)
                {
                    return ToInfo(argument.GetLocation());
                }
            }
            else if (positional++ == position)
            {
                return ToInfo(argument.GetLocation());
            }
        }

        return null;
    }

    private static bool IsValidName(string name)
    {
        if (name.Length == 0 || char.IsDigit(name[0]))
        {
            return false;
        }

        foreach (char c in name)
        {
            if (!(char.IsLetterOrDigit(c) || c == '_') || c > 127)
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsPartial(INamedTypeSymbol type) =>
        type.DeclaringSyntaxReferences.All(r => r.GetSyntax() is TypeDeclarationSyntax t && t.Modifiers.Any(m => m.Text == "partial"));

    private static string Keyword(INamedTypeSymbol type) => type.TypeKind switch
    {
        TypeKind.Struct => type.IsRecord ? "record struct" : "struct",
        TypeKind.Interface => "interface",
        _ => type.IsRecord ? "record" : "class",
    };

    private static string Format(float v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static string Bool(bool v) => v ? "true" : "false";

    private static DiagnosticInfo Diag(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] args) =>
        new(descriptor.Id, location, new EquatableArray<string>(ImmutableArray.Create(args)));

    private static LocationInfo? ToInfo(Location? location)
    {
        if (location is null || location.SourceTree is null)
        {
            return null;
        }

        FileLinePositionSpan span = location.GetLineSpan();
        return new LocationInfo(
            location.SourceTree.FilePath, location.SourceSpan.Start, location.SourceSpan.Length,
            span.StartLinePosition.Line, span.StartLinePosition.Character, span.EndLinePosition.Line, span.EndLinePosition.Character);
    }
}
