namespace Capture.Tests.Bindings.Config;

/// <summary>A temporary folder holding one license file that a test writes, corrupts and deletes.</summary>
internal sealed class LicenseFiles : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("license-");

    public LicenseFiles() => Path = System.IO.Path.Combine(_folder.FullName, "license.json");

    public string Path { get; }

    public void Write(string json) => File.WriteAllText(Path, json);

    public void Write(int seats, string validUntil = "2027-12-31", string? validFrom = null) =>
        Write($$"""{ "customer": "Leeds Contact Centre Ltd", "seats": {{seats}}, {{(validFrom is null ? "" : $"\"validFrom\": \"{validFrom}\", ")}}"validUntil": "{{validUntil}}" }""");

    public void Delete() => File.Delete(Path);

    public void Dispose() => _folder.Delete(recursive: true);
}
