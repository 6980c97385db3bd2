using System.Net;
using System.Text.Json;

namespace Appliance.Tests.Api;

/// <summary>What survives a restart: edits without a configuration file (saved to &lt;State&gt;/directory.json) and the generated token.</summary>
public sealed class PersistenceApiTests
{
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task EditsWithoutAConfigFile_AreSavedInTheStateFolder_AndLoadedAtTheNextStart()
    {
        string folder;
        string token;
        await using (ApiHost first = await ApiHost.StartAsync(config: null, withToken: false))
        {
            folder = first.Folder;
            token = File.ReadAllText(first.TokenFile).Trim();
            Assert.True(token.Length >= 32);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(first.TokenFile));

            using (HttpResponseMessage put = await first.PutJsonAsync("/api/users/gina", """{ "name": "Gina", "pin": "55" }"""))
            {
                Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            }

            using (HttpResponseMessage put = await first.PutJsonAsync("/api/profiles/gina-em", """{ "user": "gina", "extensions": ["5001"] }"""))
            {
                Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            }

            string saved = Path.Combine(first.State, "directory.json");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(saved));
            Assert.Contains("gina-em", File.ReadAllText(saved), StringComparison.Ordinal);
            Assert.False(File.Exists(saved + ".tmp"));
            await first.StopAsync();

            // Same state folder, new process state: the token file is reused and the configuration reloaded.
            await using ApiHost second = await ApiHost.StartAsync(config: null, folder: folder, withToken: false);
            Assert.Equal(token, File.ReadAllText(second.TokenFile).Trim());
            using JsonDocument gina = await second.GetJsonAsync("/api/users/gina");
            Assert.True(gina.RootElement.GetProperty("hasPin").GetBoolean());
            Assert.Equal(["gina-em"], gina.RootElement.GetProperty("profiles").EnumerateArray().Select(p => p.GetString()));
        }
    }
}
